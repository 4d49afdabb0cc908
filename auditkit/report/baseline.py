"""Compare a run's metrics with a baseline run's: better, worse, or within noise.

A change counts only when the two 95% intervals do not overlap (a conservative reading: overlapping
intervals can still differ significantly, so "within noise" here means "not shown to differ"). Whether
a change is better comes from the metric spec its analyzer declared (recorded in results.json, see
:mod:`auditkit.analyzers.metadata`); when the analyzer declares nothing, the change is reported
without a judgement.
Runs scored by different scorer versions are flagged: their numbers are not comparable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditkit.analyzers.metadata import RunMetricSpecs

__all__ = [
    "Change",
    "Comparison",
    "compare_runs",
]

@dataclass(frozen=True, slots=True)
class Change:
    """One metric in both runs."""

    analyzer: str
    name: str
    group: str
    unit: str | None
    old: float | None
    old_low: float | None
    old_high: float | None
    new: float | None
    new_low: float | None
    new_high: float | None
    verdict: str
    """``better``, ``worse``, ``within noise``, ``changed`` (no direction known), ``new``, ``removed``, ``n/a``."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """All metric changes plus warnings about comparability."""

    changes: tuple[Change, ...]
    warnings: tuple[str, ...]
    baseline_model: str
    baseline_created: str

    def count(self, verdict: str) -> int:
        return sum(1 for c in self.changes if c.verdict == verdict)


def _group_label(group: Mapping[str, Any] | None) -> str:
    if not group:
        return "overall"
    return ", ".join(f"{k}={v}" for k, v in sorted(group.items()))


def _verdict(old: Mapping[str, Any], new: Mapping[str, Any], specs: RunMetricSpecs) -> str:
    a, b = old.get("value"), new.get("value")
    if a is None or b is None:
        return "n/a"
    bounds: list[Any] = [old.get("ci_low"), old.get("ci_high"), new.get("ci_low"), new.get("ci_high")]
    if all(x is not None for x in bounds):
        overlap = not (bounds[1] < bounds[2] or bounds[3] < bounds[0])
        if overlap:
            return "within noise"
    elif abs(b - a) <= 1e-12 * max(abs(a), abs(b), 1.0):
        return "within noise"
    judged = specs.judge(metric=new, old=float(a), new=float(b))
    if judged is None or judged == "same":
        return "changed"
    return judged


def compare_runs(*, current: Mapping[str, Any], baseline: Mapping[str, Any]) -> Comparison:
    """Match metrics by (analyzer, name, group) and classify each change."""

    def key(m: Mapping[str, Any]) -> tuple[str, str, str]:
        return str(m.get("analyzer")), str(m.get("name")), _group_label(m.get("group"))

    old: dict[tuple[str, str, str], Mapping[str, Any]] = {key(m): m for m in baseline.get("metrics", [])}
    new: dict[tuple[str, str, str], Mapping[str, Any]] = {key(m): m for m in current.get("metrics", [])}
    specs = RunMetricSpecs(results=current)
    changes = []
    for k in sorted(set(old) | set(new)):
        o, n = old.get(k, {}), new.get(k, {})
        verdict = "new" if not o else "removed" if not n else _verdict(o, n, specs)
        changes.append(Change(
            analyzer=k[0], name=k[1], group=k[2], unit=(n or o).get("unit"),
            old=o.get("value"), old_low=o.get("ci_low"), old_high=o.get("ci_high"),
            new=n.get("value"), new_low=n.get("ci_low"), new_high=n.get("ci_high"), verdict=verdict,
        ))
    warnings = []
    old_an: Mapping[str, Any] = baseline.get("analyses") or {}
    new_an: Mapping[str, Any] = current.get("analyses") or {}
    for name in sorted(set(old_an) & set(new_an)):
        if (old_an[name] or {}).get("identity") != (new_an[name] or {}).get("identity"):
            warnings.append(f"The {name} analyzer's scorer or settings differ between the runs; "
                            "its numbers are not directly comparable.")
    old_suites = _suite_hashes(baseline)
    new_suites = _suite_hashes(current)
    if old_suites != new_suites:
        warnings.append("The runs used different suites or suite versions (hashes differ); "
                        "compare only metrics computed on the same prompts.")
    model = (baseline.get("manifest") or {}).get("model") or {}
    return Comparison(
        changes=tuple(changes), warnings=tuple(warnings),
        baseline_model=str(model.get("model") or "unknown model"),
        baseline_created=str((baseline.get("manifest") or {}).get("created_at") or "unknown date"),
    )


def _suite_hashes(results: Mapping[str, Any]) -> Sequence[tuple[str, str]]:
    suites = (results.get("manifest") or {}).get("suites") or []
    return sorted((str(s.get("id")), str(s.get("hash"))) for s in suites if isinstance(s, Mapping))
