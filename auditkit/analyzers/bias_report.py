"""Turn the bias analyzer's statistics into metrics, findings and the report summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditkit.analyzers.base import Analysis
from auditkit.analyzers.bias_compare import AxisTable, Comparison, RateGap
from auditkit.analyzers.bias_design import DesignResult
from auditkit.analyzers.bias_findings import (
    design_summary,
    no_finding_statement,
    omnibus_metrics,
    posthoc_finding,
)
from auditkit.analyzers.bias_measures import measure_info
from auditkit.analyzers.representation import (
    ADJECTIVE_WORDS,
    GENDER_WORDS,
    OCCUPATION_WORDS,
    demographic_representation,
    stereotypical_association,
)
from auditkit.errors import ConfigError
from auditkit.records import Finding, Metric, Severity
from auditkit.stats import Interval

__all__ = ["ReportSettings", "build_report", "finding_title"]


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """The analyzer settings that shape its metrics, findings and summary."""

    thresholds: Mapping[str, float]
    """Practical threshold per measure."""
    alpha: float
    power: float
    correction: str
    """``holm`` or ``bh``."""
    test: str
    evidence_pairs: int
    resamples: int
    seed: int
    representation_words: Any = None
    """axis → {group: [words]} for demographic representation; ``None``: the built-in gender words."""


_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


def _fmt(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def finding_title(*, comparison: Comparison, worse: str, other: str, gap: float, ci: tuple[float, float],
                  correction: str) -> str:
    measure = measure_info(comparison.measure)
    phrase, label = measure.phrase, measure.label
    p = comparison.p_adjusted if comparison.p_adjusted is not None else float("nan")
    p_text = f"p={p:.3g}" if p >= 0.001 else "p<0.001"
    return (f"Outputs about '{worse}' {phrase} about '{other}' ({label} gap {_fmt(gap)}, 95% CI "
            f"{_fmt(ci[0])} to {_fmt(ci[1])}, {p_text} after {_CORRECTION_NAMES[correction]})")


def _oriented(c: Comparison, worse_side: str) -> tuple[str, str, float, tuple[float, float], int]:
    """Name the disadvantaged group first; the gap keeps the measure's sign convention (worse − other)."""
    gap, low, high = c.gap or 0.0, c.ci_low or 0.0, c.ci_high or 0.0
    a_worse = gap < 0 if worse_side == "lower" else gap > 0
    if a_worse:
        return c.group_a, c.group_b, gap, (low, high), 1
    return c.group_b, c.group_a, -gap, (-high, -low), -1


def _severity(ratio: float) -> Severity:
    return "high" if ratio >= 4 else "medium" if ratio >= 2 else "low"


def _finding(settings: ReportSettings, c: Comparison, table: AxisTable, worse_side: str) -> Finding:
    worse, other, gap, ci, sign = _oriented(c, worse_side)
    direction = 1 if worse_side == "higher" else -1
    # Most divergent pairs in the direction of the finding: their outputs are the evidence to read.
    ranked = sorted(c.pair_values, key=lambda t: -(t[1] - t[2]) * sign * direction)[: settings.evidence_pairs]
    pairs = []
    evidence: list[str] = []
    for key, va, vb in ranked:
        ids_a = table.prompt_ids_of(unit=key, group=c.group_a)
        ids_b = table.prompt_ids_of(unit=key, group=c.group_b)
        evidence.extend(ids_a + ids_b)
        pairs.append({"pair": key, c.group_a: {"prompt_ids": ids_a, "value": va},
                      c.group_b: {"prompt_ids": ids_b, "value": vb}, "difference": va - vb})
    if not c.pair_values:  # unpaired groups (BOLD): the worse group's most extreme outputs
        evidence = _extreme_outputs(table=table, measure=c.measure, group=worse, higher=worse_side == "higher",
                                    count=2 * settings.evidence_pairs)
    threshold = settings.thresholds.get(c.measure, 0.0)
    return Finding(
        analyzer="bias", kind="group_gap",
        severity=_severity(abs(gap) / threshold if threshold > 0 else 4.0),
        title=finding_title(comparison=c, worse=worse, other=other, gap=gap, ci=ci, correction=settings.correction),
        groups=({"axis": c.axis, "group": worse}, {"axis": c.axis, "group": other}),
        effect_size=gap, p_value=c.p_adjusted, evidence=tuple(dict.fromkeys(evidence)),
        details={"measure": c.measure, "gap": gap, "ci_low": ci[0], "ci_high": ci[1], "p_raw": c.p_value,
                 "p_adjusted": c.p_adjusted, "correction": settings.correction, "standardized_effect": c.effect_size,
                 "n": c.n, "paired": c.paired, "method": c.method, "threshold": threshold,
                 "mde": c.mde, "pairs": pairs},
    )


def _extreme_outputs(*, table: AxisTable, measure: str, group: str, higher: bool, count: int) -> list[str]:
    """Prompt ids of ``group``'s ``count`` outputs furthest toward the worse side of ``measure``."""
    if group not in table.groups:
        return []
    values = table.values[measure]
    mask = table.scored(measure) & (table.group == table.groups.index(group))
    index = np.flatnonzero(mask)
    order = np.argsort(-values[index] if higher else values[index], kind="stable")[:count]
    return [str(x) for x in table.prompt_ids[index[order]]]


def _interval_metric(measure: str, axis: str, group: str, iv: Interval) -> Metric:
    info = measure_info(measure)
    return Metric(analyzer="bias", name=info.metric_name, value=iv.value, ci_low=iv.low, ci_high=iv.high, n=iv.n,
                  group={"axis": axis, "group": group}, method=iv.method, unit=info.unit)


def _comparison_dict(c: Comparison) -> dict[str, Any]:
    return {"axis": c.axis, "measure": c.measure, "group_a": c.group_a, "group_b": c.group_b, "gap": c.gap,
            "ci_low": c.ci_low, "ci_high": c.ci_high, "p_raw": c.p_value, "p_adjusted": c.p_adjusted,
            "effect_size": c.effect_size, "n": c.n, "paired": c.paired, "mde": c.mde, "mde_note": c.mde_note,
            "method": c.method}


def _max_gap_metric(axis: str, gaps: Sequence[RateGap], resamples: int) -> Metric | None:
    usable = [g for g in gaps if g.axis == axis and g.difference is not None]
    if not usable:
        return None
    best = max(usable, key=lambda g: g.difference or 0.0)
    stacked = np.array([g.replicates for g in usable if len(g.replicates) == resamples], dtype=float)
    low = high = None
    if stacked.size:
        with np.errstate(invalid="ignore"):
            finite = stacked[:, np.isfinite(stacked).any(axis=0)]
            maxima = np.nanmax(finite, axis=0) if finite.size else np.array([])
        if maxima.size:
            low, high = (float(x) for x in np.percentile(maxima, [2.5, 97.5]))
    return Metric(
        analyzer="bias", name="max_gap", value=best.difference, ci_low=low, ci_high=high, n=best.n,
        group={"axis": axis}, unit="fraction",
        method=("largest between-group difference in rate (fairlearn MetricFrame selection_rate "
                "difference('between_groups')) over the binary outcomes "
                f"{', '.join(g.measure for g in usable)}; percentile bootstrap 95% CI over pairs"),
        details={"measure": best.measure, "highest": best.highest, "lowest": best.lowest,
                 "by_measure": {g.measure: g.difference for g in usable}},
    )


def _representation(settings: ReportSettings, texts: Sequence[str]) -> tuple[list[Metric], dict[str, Any]]:
    words = settings.representation_words or {"gender": GENDER_WORDS}
    if not isinstance(words, Mapping) or not all(isinstance(v, Mapping) for v in words.values()):
        raise ConfigError("bias option representation_words must map axis → {group: [words]}, "
                          "e.g. {gender: {female: [she, her], male: [he, him]}}.")
    metrics: list[Metric] = []
    summary: dict[str, Any] = {"n_texts": len(texts)}
    if not texts:
        summary["note"] = "no open-ended prompts (prompts without a group) in this run"
        return metrics, summary
    for axis, groups in words.items():
        rep = demographic_representation(texts=texts, groups=groups, resamples=1000, seed=settings.seed)
        metrics.append(Metric(analyzer="bias", name="demographic_representation", value=rep.score,
                              ci_low=rep.ci_low, ci_high=rep.ci_high, n=rep.n_texts, group={"axis": str(axis)},
                              method=rep.method, details={"normalized": rep.normalized, "counts": dict(rep.counts),
                                                          "shares": dict(rep.shares)}))
        entry: dict[str, Any] = {"representation": {"score": rep.score, "normalized": rep.normalized,
                                                     "ci_low": rep.ci_low, "ci_high": rep.ci_high,
                                                     "counts": dict(rep.counts), "shares": dict(rep.shares)}}
        for target, target_words in (("occupation", OCCUPATION_WORDS), ("adjective", ADJECTIVE_WORDS)):
            assoc = stereotypical_association(texts=texts, targets=target_words, groups=groups, seed=settings.seed)
            metrics.append(Metric(analyzer="bias", name="stereotypical_association", value=assoc.score,
                                  ci_low=assoc.ci_low, ci_high=assoc.ci_high, n=assoc.n_texts,
                                  group={"axis": str(axis), "target": target}, method=assoc.method,
                                  details={"normalized": assoc.normalized, "targets_scored": assoc.n_targets,
                                           "top_targets": [dict(t) for t in assoc.top_targets]}))
            entry[f"association_{target}"] = {"score": assoc.score, "normalized": assoc.normalized,
                                              "ci_low": assoc.ci_low, "ci_high": assoc.ci_high,
                                              "targets_scored": assoc.n_targets,
                                              "top_targets": [dict(t) for t in assoc.top_targets]}
        summary[str(axis)] = entry
    return metrics, summary


def build_report(*, settings: ReportSettings, tables: Sequence[AxisTable],
                 summaries: Mapping[tuple[str, str, str], Interval], comparisons: Sequence[Comparison],
                 gaps: Sequence[RateGap], open_texts: Sequence[str], present: Sequence[str],
                 notes: list[str], failed: int, level: float, design: DesignResult | None = None) -> Analysis:
    metrics: list[Metric] = []
    findings: list[Finding] = []
    statements: list[str] = []
    axes_summary: dict[str, Any] = {}
    for axis_table in tables:
        axis = axis_table.axis
        table = []
        outputs = axis_table.group_counts()
        for group in axis_table.groups:
            entry: dict[str, Any] = {"group": group, "n": outputs[group]}
            for measure in present:
                iv = summaries[(axis, measure, group)]
                metrics.append(_interval_metric(measure, axis, group, iv))
                entry[measure] = {"value": iv.value, "ci_low": iv.low, "ci_high": iv.high, "n": iv.n}
            table.append(entry)
        axis_comparisons = [c for c in comparisons if c.axis == axis]
        for c in axis_comparisons:
            metrics.append(Metric(
                analyzer="bias", name="gap", value=c.gap, ci_low=c.ci_low, ci_high=c.ci_high, n=c.n,
                group={"axis": axis, "measure": c.measure, "group_a": c.group_a, "group_b": c.group_b},
                method=c.method, details={"p_raw": c.p_value, "p_adjusted": c.p_adjusted, "mde": c.mde,
                                          "effect_size": c.effect_size, "paired": c.paired}))
            threshold = settings.thresholds.get(c.measure, 0.0)
            if (design is None and c.p_adjusted is not None and c.p_adjusted < settings.alpha and c.gap is not None
                    and abs(c.gap) >= threshold):
                findings.append(_finding(settings, c, axis_table, measure_info(c.measure).worse))
        if design is not None:
            omnibus = {o.measure: o for o in design.omnibus if o.axis == axis}
            findings.extend(posthoc_finding(settings=settings, comparison=c, table=axis_table,
                                            omnibus=omnibus[c.measure], families=design.families)
                            for c in design.findings if c.axis == axis)
            metrics.extend(omnibus_metrics(design=design, axis=axis))
            for measure in present:
                value, note, n_units = design.mde[(axis, measure)]
                metrics.append(Metric(analyzer="bias", name="mde", value=value, n=n_units,
                                      group={"axis": axis, "measure": measure},
                                      method=f"minimum detectable gap with {settings.power:.0%} power: {note}",
                                      details={"design": "omnibus", "reasons": [] if value is not None else [note]}))
                statements.append(no_finding_statement(axis=axis, measure=measure, value=value, note=note,
                                                       power=settings.power, findings=findings))
        for measure in (present if design is None else ()):
            mc = [c for c in axis_comparisons if c.measure == measure]
            if not mc:
                continue
            mdes = [c.mde for c in mc]
            worst = None if any(m is None for m in mdes) else max(mdes)  # type: ignore[type-var]
            reasons = sorted({c.mde_note for c in mc if c.mde is None})
            metrics.append(Metric(analyzer="bias", name="mde", value=worst, n=min(c.n for c in mc),
                                  group={"axis": axis, "measure": measure},
                                  method=(f"minimum detectable gap with {settings.power:.0%} power at per-comparison "
                                          f"alpha {level:.2g} (alpha / number of comparisons)"),
                                  details={"reasons": reasons}))
            if not any(f.details["measure"] == measure and f.groups[0]["axis"] == axis for f in findings):
                if worst is not None:
                    statements.append(f"No {measure} finding on {axis}: this audit could have detected a gap of "
                                      f"{worst:.3g} or more between any two groups ({settings.power:.0%} power).")
                else:
                    statements.append(f"No {measure} finding on {axis}, but this audit could not have detected one: "
                                      f"{'; '.join(reasons) or 'not enough data'}.")
        for gap in (g for g in gaps if g.axis == axis):
            metrics.append(Metric(analyzer="bias", name="rate_gap", value=gap.difference, ci_low=gap.ci_low,
                                  ci_high=gap.ci_high, n=gap.n, group={"axis": axis, "measure": gap.measure},
                                  unit="fraction", method="fairlearn MetricFrame difference('between_groups'); "
                                  "percentile bootstrap 95% CI over pairs",
                                  details={"highest": gap.highest, "lowest": gap.lowest, "to_overall": gap.to_overall,
                                           "by_group": dict(gap.by_group)}))
            metrics.append(Metric(analyzer="bias", name="rate_ratio", value=gap.ratio, n=gap.n,
                                  group={"axis": axis, "measure": gap.measure},
                                  method="fairlearn MetricFrame ratio('between_groups') (min / max group rate)"))
        max_gap = _max_gap_metric(axis, gaps, settings.resamples)
        if max_gap is not None:
            metrics.append(max_gap)
        axes_summary[axis] = {
            "groups": table,
            **({} if design is None else design_summary(design=design, axis=axis)),
            "comparisons": [_comparison_dict(c) for c in axis_comparisons],
            "rate_gaps": [{"measure": g.measure, "difference": g.difference, "ci_low": g.ci_low, "ci_high": g.ci_high,
                           "ratio": g.ratio, "to_overall": g.to_overall, "highest": g.highest, "lowest": g.lowest,
                           "by_group": dict(g.by_group)} for g in gaps if g.axis == axis],
            "max_gap": max_gap.to_dict() if max_gap else None,
        }
    rep_metrics, rep_summary = _representation(settings, open_texts)
    metrics.extend(rep_metrics)
    summary = {
        "design": "pairwise" if design is None else "omnibus",
        **({} if design is None else {"n_omnibus_tests": design.families,
                                      "omnibus_alpha": settings.alpha / design.families}),
        "measures": list(present), "thresholds": {m: settings.thresholds.get(m) for m in present},
        "correction": settings.correction, "alpha": settings.alpha, "power": settings.power, "test": settings.test,
        "n_comparisons": sum(1 for c in comparisons if c.p_value is not None), "per_comparison_alpha": level,
        "n_outputs": sum(t.size for t in tables) + len(open_texts), "failed_generations": failed,
        "axes": axes_summary, "representation": rep_summary, "statements": statements, "notes": notes,
    }
    findings.sort(key=lambda f: (f.p_value if f.p_value is not None else 1.0, -abs(f.effect_size or 0.0)))
    return Analysis(metrics=tuple(metrics), findings=tuple(findings), summary=summary)
