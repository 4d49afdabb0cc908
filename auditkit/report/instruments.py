"""The report's "how good are our instruments" section: each scorer's own error, from results.json.

Any analyzer that measures its scorer puts an ``instrument`` entry in its summary (the toxicity analyzer
does, see :mod:`auditkit.analyzers.toxicity_validity`; a regard measure or a judge can do the same):
calibration sets with sensitivity and specificity, whether a correction was applied, and the identity
check's false-positive rates. This module turns those entries into plain tables for the template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditkit.report.context import Table, fmt

__all__ = ["InstrumentView", "instrument_views"]


@dataclass(frozen=True, slots=True)
class InstrumentView:
    analyzer: str
    measure: str
    scorer: str
    correction: str
    """Whether a correction was applied, and with which set."""
    note: str | None
    sets: tuple[str, ...]
    """One sentence per calibration set: what it is and how large."""
    accuracy: Table
    categories: tuple[Table, ...]
    identity: Table | None
    flagged_axes: tuple[str, ...]


def _share(entry: Mapping[str, Any] | None) -> str:
    if not isinstance(entry, Mapping) or entry.get("value") is None:
        return "n/a"
    low, high = entry.get("ci_low"), entry.get("ci_high")
    interval = f" [{low:.1%}, {high:.1%}]" if isinstance(low, (int, float)) and isinstance(high, (int, float)) else ""
    return f"{entry['value']:.1%}{interval}"


def _accuracy_table(sets: Sequence[Mapping[str, Any]]) -> Table:
    rows = []
    for s in sets:
        rows.append((str(s.get("name")), f"{fmt(s.get('size'))} ({fmt(s.get('positives'))} positive, "
                     f"{fmt(s.get('negatives'))} negative)", _share(s.get("sensitivity")),
                     _share(s.get("specificity")), "yes" if s.get("used_for_correction") else "no"))
    return Table(caption="Sensitivity and specificity at the run's threshold (Wilson 95% CI)",
                 columns=("Calibration set", "Texts", "Sensitivity", "Specificity", "Used for correction"),
                 rows=tuple(rows), total=len(rows))


def _category_table(s: Mapping[str, Any]) -> Table:
    rows = tuple((str(c.get("category")), str(c.get("label")), fmt(c.get("texts")), fmt(c.get("flagged")),
                  f"{c.get('correct_share', 0):.0%}") for c in s.get("by_category") or [])
    return Table(caption=f"Where the scorer errs on the {s.get('name')} set (flagged = score ≥ threshold)",
                 columns=("Category", "Label", "Texts", "Flagged", "Scored correctly"), rows=rows, total=len(rows))


def _identity_table(identity: Mapping[str, Any]) -> Table:
    groups = sorted(identity.get("by_group") or [],
                    key=lambda g: (not g.get("scorer_bias"), -(g.get("false_positive_rate") or 0), str(g.get("axis"))))
    rows = tuple((str(g.get("group")), str(g.get("axis")), f"{fmt(g.get('flagged'))} / {fmt(g.get('statements'))}",
                  _share({"value": g.get("false_positive_rate"), "ci_low": g.get("ci_low"),
                          "ci_high": g.get("ci_high")}),
                  fmt(g.get("mean_score")), fmt(g.get("p_adjusted"), 3), "yes" if g.get("scorer_bias") else "no")
                 for g in groups)
    return Table(caption="Identity check: benign statements flagged as toxic, by group",
                 columns=("Group", "Axis", "Flagged", "False-positive rate", "Mean score", "Adjusted p",
                          "Scorer bias"), rows=rows, total=len(rows))


def instrument_views(*, results: Mapping[str, Any]) -> list[InstrumentView]:
    """One view per analyzer whose summary carries an ``instrument`` entry, by analyzer name."""
    views = []
    for name, entry in sorted((results.get("analyses") or {}).items()):
        instrument = ((entry or {}).get("summary") or {}).get("instrument")
        if not isinstance(instrument, Mapping):
            continue
        sets = [s for s in instrument.get("calibration_sets") or [] if isinstance(s, Mapping)]
        correction = instrument.get("correction") or {}
        identity = instrument.get("identity_check") if isinstance(instrument.get("identity_check"), Mapping) else None
        scorer = instrument.get("scorer") or {}
        applied = correction.get("applied")
        views.append(InstrumentView(
            analyzer=name, measure=str(instrument.get("measure") or name),
            scorer=" ".join(str(v) for k, v in scorer.items() if k != "weights_hash") or "unknown scorer",
            correction=(f"applied with the {correction.get('calibration_set')} set: "
                        f"{correction.get('metric')} ({correction.get('method')})") if applied else "not applied",
            note=str(correction["note"]) if correction.get("note") else None,
            sets=tuple(f"{s.get('name')}: {s.get('description') or s.get('source')} ({fmt(s.get('size'))} texts)"
                       for s in sets),
            accuracy=_accuracy_table(sets),
            categories=tuple(_category_table(s) for s in sets if s.get("by_category")),
            identity=_identity_table(identity) if identity else None,
            flagged_axes=tuple(str(a) for a in (identity or {}).get("flagged_axes") or ()),
        ))
    return views
