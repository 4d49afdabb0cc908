"""Figures for summaries shaped like a group-fairness audit: ``summary["axes"][AXIS]["groups"]``.

Recognised by the data's shape, not by the analyzer's name: any analyzer whose summary has ``axes`` with
per-group measures ``{value, ci_low, ci_high, n}`` (and optionally ``group_vs_rest`` gaps, ``mde`` and
``thresholds``) gets, per axis, a forest plot of the group rates and a gap plot against the practical
threshold and the minimum detectable effect. One measure per axis — the one whose gaps stand out most
against its threshold — keeps a 7-axis × 7-measure audit to 14 charts; the tables keep every number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from auditkit.analyzers.metric_spec import MetricSpec, find_spec
from auditkit.report.figure import Figure
from auditkit.report.forest import Reference, forest_plot, gap_class, gap_plot
from auditkit.report.plain import finite
from auditkit.report.svg import Estimate, Numbers, slug

__all__ = [
    "MAX_ROWS",
    "axis_figures",
    "humanize",
    "in_sentence",
    "metric_label",
]

MAX_ROWS = 20
"""Groups drawn per chart; larger axes show the 20 with the highest values (the title says so)."""


def humanize(key: str) -> str:
    return key.replace("_", " ").strip()


def metric_label(*, name: str, spec: MetricSpec | None) -> str:
    """What people call a metric: its declared ``label``, else its name tidied ("Pct stereotype")."""
    return spec.label if spec is not None and spec.label else humanize(name).capitalize()


def in_sentence(label: str) -> str:
    """A label inside a sentence: "Toxic rate" → "toxic rate", but "BBQ accuracy" stays as it is."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


@dataclass(frozen=True, slots=True)
class _Lead:
    """The measure an axis's charts show, and how strongly its gaps stand out (for ordering axes)."""

    axis: str
    measure: str
    strength: tuple[float, float]


def _groups(entry: Any) -> list[Mapping[str, Any]]:
    groups = entry.get("groups") if isinstance(entry, Mapping) else None
    return [g for g in groups if isinstance(g, Mapping)] if isinstance(groups, list) else []


def _measure_estimate(group: Mapping[str, Any], measure: str) -> Estimate:
    cell = group.get(measure)
    label = str(group.get("group", "?"))
    if not isinstance(cell, Mapping):
        return Estimate(label=label, value=None)
    n = cell.get("n", group.get("n"))
    return Estimate(label=label, value=_num(cell.get("value")), low=_num(cell.get("ci_low")),
                    high=_num(cell.get("ci_high")), n=int(n) if finite(n) else None)


def _num(x: Any) -> float | None:
    return float(x) if finite(x) else None


def _gaps(entry: Mapping[str, Any], measure: str, alpha: float = 0.05) -> list[Estimate]:
    """Each group against the rest; failing that, the pairwise comparisons (a − b)."""
    vs_rest = [g for g in entry.get("group_vs_rest") or [] if isinstance(g, Mapping) and g.get("measure") == measure]
    if vs_rest:
        return [Estimate(label=f"{g.get('group')} vs rest", value=_num(g.get("gap")), low=_num(g.get("ci_low")),
                         high=_num(g.get("ci_high")), n=int(g["n"]) if finite(g.get("n")) else None,
                         significant=_significant(g, alpha))
                for g in vs_rest]
    pairs = [g for g in entry.get("comparisons") or [] if isinstance(g, Mapping) and g.get("measure") == measure]
    return [Estimate(label=f"{g.get('group_a')} − {g.get('group_b')}", value=_num(g.get("gap")),
                     low=_num(g.get("ci_low")), high=_num(g.get("ci_high")),
                     n=int(g["n"]) if finite(g.get("n")) else None, significant=_significant(g, alpha))
            for g in pairs]


def _significant(gap: Mapping[str, Any], alpha: float) -> bool | None:
    """The analyzer's corrected verdict on one gap, when it reports an adjusted p-value."""
    p = gap.get("p_adjusted")
    return float(p) < alpha if finite(p) else None


def _alpha(summary: Mapping[str, Any]) -> float:
    value = summary.get("alpha")
    return float(value) if finite(value) and 0 < value < 1 else 0.05


def _threshold(summary: Mapping[str, Any], measure: str) -> float | None:
    value = (summary.get("thresholds") or {}).get(measure) if isinstance(summary.get("thresholds"), Mapping) else None
    return abs(float(value)) if finite(value) and value != 0 else None


def _mde(entry: Mapping[str, Any], measure: str) -> float | None:
    cell = (entry.get("mde") or {}).get(measure) if isinstance(entry.get("mde"), Mapping) else None
    value = cell.get("value") if isinstance(cell, Mapping) else cell
    return abs(float(value)) if finite(value) else None


def _strength(entry: Mapping[str, Any], measure: str, threshold: float | None, alpha: float) -> tuple[float, float]:
    """(largest |gap| whose interval excludes 0, largest |gap|), in units of the threshold."""
    unit = threshold or 1.0
    gaps = _gaps(entry, measure, alpha)
    if not gaps:  # no gap statistics: the spread of the group values
        values = [e.value for g in _groups(entry) if finite((e := _measure_estimate(g, measure)).value)]
        spread = (max(values) - min(values)) / unit if len(values) > 1 else 0.0
        return 0.0, spread
    clear = [abs(g.value) for g in gaps if finite(g.value) and gap_class(g, None) != "unclear"]
    every = [abs(g.value) for g in gaps if finite(g.value)]
    return max(clear, default=0.0) / unit, max(every, default=0.0) / unit


def _measures(summary: Mapping[str, Any], axes: Mapping[str, Any]) -> list[str]:
    declared = [str(m) for m in summary.get("measures") or [] if isinstance(m, str)]
    if declared:
        return declared
    found: list[str] = []
    for entry in axes.values():
        for g in _groups(entry):
            found += [k for k, v in g.items() if isinstance(v, Mapping) and "value" in v and k not in found]
    return found


def _leads(summary: Mapping[str, Any], axes: Mapping[str, Any]) -> list[_Lead]:
    measures = _measures(summary, axes)
    leads = []
    for axis, entry in axes.items():
        if not isinstance(entry, Mapping) or not _groups(entry):
            continue
        present = [m for m in measures if any(finite(_measure_estimate(g, m).value) for g in _groups(entry))]
        if not present:
            continue
        # max() keeps the first of equals: the declared measure order breaks ties
        alpha = _alpha(summary)
        best = max(present, key=lambda m: _strength(entry, m, _threshold(summary, m), alpha))
        leads.append(_Lead(axis=str(axis), measure=best,
                           strength=_strength(entry, best, _threshold(summary, best), alpha)))
    return sorted(leads, key=lambda lead: (-lead.strength[0], -lead.strength[1], lead.axis))


def _spec(specs: Sequence[MetricSpec], measure: str) -> MetricSpec | None:
    """The per-group metric declared for ``measure`` (``<measure>_rate``, ``<measure>_mean`` or itself)."""
    for name in (f"{measure}_rate", f"{measure}_mean", measure):
        spec = find_spec(specs=specs, name=name)
        if spec is not None and not spec.is_pattern:
            return spec
    return None


def _forest(name: str, lead: _Lead, entry: Mapping[str, Any], label: str, numbers: Numbers) -> Figure:
    estimates = [_measure_estimate(g, lead.measure) for g in _groups(entry)]
    estimates.sort(key=lambda e: (not finite(e.value), -(e.value if finite(e.value) else 0.0), e.label))
    shown = estimates[:MAX_ROWS]
    weighted = [(e.value, e.n or 1) for e in estimates if finite(e.value)]
    overall = sum(v * n for v, n in weighted) / sum(n for _, n in weighted) if weighted else None
    more = f" ({len(shown)} highest of {len(estimates)} groups)" if len(shown) < len(estimates) else ""
    title = f"{humanize(lead.axis).capitalize()}: {label} by group, with 95% intervals{more}"
    words = [f"{e.label} {numbers.show(e.value)}{numbers.interval(e)}" for e in shown]
    alt = f"{title}. " + "; ".join(words) + "."
    if overall is not None:
        alt += f" All groups together: {numbers.show(overall)}."
    refs = [Reference(value=overall, label="all groups", kind="overall")] if overall is not None else []
    key = f"{slug(name)}-forest-{slug(lead.axis)}-{slug(lead.measure)}"
    svg = forest_plot(uid=f"fig-{key}", title=title, desc=alt, rows=shown, references=refs, numbers=numbers,
                      axis_label=label)
    return Figure(title=title, alt=alt, svg=svg, key=key)


def _gap_words(gaps: Sequence[Estimate], threshold: float | None, mde: float | None, numbers: Numbers) -> str:
    kinds = {k: [g for g in gaps if gap_class(g, threshold) == k] for k in ("beyond", "differs", "unclear")}
    parts = []
    if threshold is not None:
        parts.append(f"Practical threshold ±{numbers.show(threshold)}.")
    if mde is not None:
        parts.append(f"Gaps smaller than {numbers.show(mde)} could not be detected by this audit (hatched band).")
        if threshold is not None and mde > threshold:
            parts.append("The audit was too small to detect a gap as large as the threshold.")
    if kinds["beyond"]:
        parts.append("Reaching the threshold: " + "; ".join(
            f"{g.label} {numbers.show(g.value, signed=True)}{numbers.interval(g)}" for g in kinds["beyond"]) + ".")
    if kinds["differs"]:
        parts.append("Different from 0 but under the threshold: " + "; ".join(
            f"{g.label} {numbers.show(g.value, signed=True)}{numbers.interval(g)}" for g in kinds["differs"]) + ".")
    if kinds["unclear"]:
        parts.append(f"Could be chance (not shown to differ from 0): {len(kinds['unclear'])} of {len(gaps)} gaps ("
                     + ", ".join(f"{g.label} {numbers.show(g.value, signed=True)}" for g in kinds["unclear"]) + ").")
    return " ".join(parts)


def _gap_figure(name: str, lead: _Lead, entry: Mapping[str, Any], summary: Mapping[str, Any], label: str,
                numbers: Numbers) -> Figure | None:
    gaps = _gaps(entry, lead.measure, _alpha(summary))
    if not gaps:
        return None
    gaps.sort(key=lambda g: (not finite(g.value), -abs(g.value) if finite(g.value) else 0.0, g.label))
    shown = sorted(gaps[:MAX_ROWS], key=lambda g: (not finite(g.value), -(g.value if finite(g.value) else 0.0)))
    more = f" ({len(shown)} largest of {len(gaps)})" if len(shown) < len(gaps) else ""
    threshold, mde = _threshold(summary, lead.measure), _mde(entry, lead.measure)
    title = (f"{humanize(lead.axis).capitalize()}: gaps in {label}, against the threshold and what the audit "
             f"could detect{more}")
    # Gaps between rates are percentage points: "pp" on the chart, "points" in words (as the summary says).
    alt = f"{title}. {_gap_words(shown, threshold, mde, replace(numbers, points='points'))}"
    key = f"{slug(name)}-gaps-{slug(lead.axis)}-{slug(lead.measure)}"
    svg = gap_plot(uid=f"fig-{key}", title=title, desc=alt, rows=shown, threshold=threshold, mde=mde,
                   numbers=replace(numbers, points="pp"), axis_label=f"gap in {label}")
    return Figure(title=title, alt=alt, svg=svg, key=key)


def axis_figures(*, name: str, summary: Mapping[str, Any], specs: Sequence[MetricSpec]) -> list[Figure]:
    """Per axis, most telling first: the forest plot of its lead measure, then that measure's gap plot."""
    axes = summary.get("axes")
    if not isinstance(axes, Mapping):
        return []
    figures: list[Figure] = []
    for lead in _leads(summary, axes):
        entry = axes[lead.axis]
        spec = _spec(specs, lead.measure)
        label = in_sentence(metric_label(name=spec.name if spec is not None else lead.measure, spec=spec))
        numbers = Numbers(percent=bool(spec and spec.percent), unit=spec.unit if spec is not None else None)
        figures.append(_forest(name, lead, entry, label, numbers))
        gap = _gap_figure(name, lead, entry, summary, label, numbers)
        if gap is not None:
            figures.append(gap)
    return figures
