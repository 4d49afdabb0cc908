"""Findings, metrics and statements of the omnibus → post-hoc design (see bias_design)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from auditkit.analyzers.bias_compare import AxisTable, Comparison
from auditkit.analyzers.bias_design import DesignResult, Omnibus
from auditkit.analyzers.bias_measures import measure_info
from auditkit.records import Finding, Metric, Severity

if TYPE_CHECKING:
    from auditkit.analyzers.bias_report import ReportSettings

__all__ = ["design_summary", "evidence_severity", "no_finding_statement", "omnibus_metrics", "posthoc_finding"]

_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


def _fmt(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def _p(p: float | None) -> str:
    if p is None:
        return "p=n/a"
    return f"p={p:.3g}" if p >= 0.001 else "p<0.001"


def evidence_severity(*, ci_near: float, threshold: float) -> Severity:
    """Severity from the interval's bound nearest zero over the practical threshold (not the point gap)."""
    if threshold <= 0:
        return "high" if ci_near > 0 else "low"
    ratio = ci_near / threshold
    return "high" if ratio >= 4 else "medium" if ratio >= 2 else "low"


def posthoc_finding(*, settings: ReportSettings, comparison: Comparison, table: AxisTable, omnibus: Omnibus,
                    families: int) -> Finding:
    """A group that differs from the rest of its axis, inside an axis whose omnibus test is significant."""
    c = comparison
    info = measure_info(c.measure)
    gap, low, high = c.gap or 0.0, c.ci_low or 0.0, c.ci_high or 0.0
    sign = 1 if info.worse == "higher" else -1
    ci_near = min(low * sign, high * sign)  # the bound nearest zero, on the worse side
    threshold = settings.thresholds.get(c.measure, 0.0)
    others = [g for g in table.groups if g != c.group_a]
    ranked = sorted(c.pair_values, key=lambda t: -(t[1] - t[2]) * sign)[: settings.evidence_pairs]
    pairs: list[dict[str, Any]] = []
    evidence: list[str] = []
    for key, va, vb in ranked:
        ids_a = table.prompt_ids_of(unit=key, group=c.group_a)
        ids_rest = [pid for g in others for pid in table.prompt_ids_of(unit=key, group=g)]
        evidence.extend(ids_a + ids_rest)
        pairs.append({"pair": key, c.group_a: {"prompt_ids": ids_a, "value": va},
                      "rest": {"prompt_ids": ids_rest, "value": vb}, "difference": va - vb})
    if not c.pair_values:  # unpaired groups (BOLD): the group's outputs furthest toward the worse side
        evidence = _extreme_outputs(table=table, measure=c.measure, group=c.group_a, higher=sign > 0,
                                    count=2 * settings.evidence_pairs)
    correction = _CORRECTION_NAMES.get(settings.correction, settings.correction)
    within = "max-T adjustment" if c.paired else "Holm"
    title = (f"Outputs about '{c.group_a}' {info.phrase} about the other {c.axis} groups ({info.label} gap "
             f"{_fmt(gap)}, 95% CI {_fmt(low)} to {_fmt(high)}, {_p(c.p_adjusted)} after {within} within {c.axis}; "
             f"{c.axis} omnibus {_p(omnibus.p_adjusted)} after {correction} over {families} tests)")
    return Finding(
        analyzer="bias", kind="group_gap", severity=evidence_severity(ci_near=ci_near, threshold=threshold),
        title=title, groups=({"axis": c.axis, "group": c.group_a}, {"axis": c.axis, "group": "rest"}),
        effect_size=gap, p_value=c.p_adjusted, evidence=tuple(dict.fromkeys(evidence)),
        details={"measure": c.measure, "gap": gap, "ci_low": low, "ci_high": high, "p_raw": c.p_value,
                 "p_adjusted": c.p_adjusted, "design": "omnibus",
                 "correction": "Westfall–Young max-T within the axis" if c.paired else "holm within the axis",
                 "omnibus_p_raw": omnibus.p_value, "omnibus_p_adjusted": omnibus.p_adjusted,
                 "omnibus_method": omnibus.method, "omnibus_tests": families, "compared_with": others,
                 "standardized_effect": c.effect_size, "n": c.n, "paired": c.paired, "method": c.method,
                 "threshold": threshold, "pairs": pairs,
                 "severity_rule": "bound of the 95% CI nearest zero / practical threshold: high ≥4, medium ≥2"},
    )


def _extreme_outputs(*, table: AxisTable, measure: str, group: str, higher: bool, count: int) -> list[str]:
    import numpy as np

    if group not in table.groups:
        return []
    values = table.values[measure]
    index = np.flatnonzero(table.scored(measure) & (table.group == table.groups.index(group)))
    order = np.argsort(-values[index] if higher else values[index], kind="stable")[:count]
    return [str(x) for x in table.prompt_ids[index[order]]]


def omnibus_metrics(*, design: DesignResult, axis: str) -> list[Metric]:
    return [Metric(analyzer="bias", name="omnibus_p", value=o.p_adjusted, n=o.n_units,
                   group={"axis": axis, "measure": o.measure}, method=o.method,
                   details={"p_raw": o.p_value, "statistic": o.statistic, "groups": o.k,
                            "units_per_group": o.n_per_group, "paired": o.paired, "tests": design.families})
            for o in design.omnibus if o.axis == axis]


def design_summary(*, design: DesignResult, axis: str) -> dict[str, Any]:
    return {
        "omnibus": [{"measure": o.measure, "p_raw": o.p_value, "p_adjusted": o.p_adjusted, "method": o.method,
                     "units_per_group": o.n_per_group, "groups": o.k} for o in design.omnibus if o.axis == axis],
        "group_vs_rest": [{"measure": c.measure, "group": c.group_a, "gap": c.gap, "ci_low": c.ci_low,
                           "ci_high": c.ci_high, "p_raw": c.p_value, "p_adjusted": c.p_adjusted, "n": c.n}
                          for c in design.posthoc if c.axis == axis],
        "mde": {m: {"value": v, "note": note, "units_per_group": n}
                for (a, m), (v, note, n) in design.mde.items() if a == axis},
    }


def no_finding_statement(*, axis: str, measure: str, value: float | None, note: str, power: float,
                         findings: Sequence[Finding]) -> str:
    if any(f.details.get("measure") == measure and f.groups and f.groups[0].get("axis") == axis for f in findings):
        return f"{measure} on {axis}: see the findings."
    if value is None:
        return f"No {measure} finding on {axis}, but this audit could not have detected one: {note}."
    unit = "" if measure_info(measure).kind == "mean" else " in rate"
    return (f"No {measure} finding on {axis}: this audit could have detected a gap{unit} of {value:.3g} or more "
            f"({power:.0%} power; {note}).")
