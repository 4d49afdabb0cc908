"""Figures read from an analyzer's metrics and metric specs, whatever the analyzer:

- scores against their ideal value, for every metric whose spec has ``direction == "target"`` (CrowS-Pairs'
  ``pct_stereotype`` vs 0.5, StereoSet's ``ss`` vs 50, BBQ's ``bias_score`` vs 0), plus that analyzer's
  percentage metrics that are better higher (BBQ accuracy, ideal 100%);
- the headline metric broken down by one attribute (its first declared metric with a per-group
  breakdown: energy per prompt by suite, toxic fraction by axis), at most two breakdowns;
- score distributions: the summary's ``histogram`` (edges and counts), else the per-output scores binned
  into 20 bins, with the summary's ``threshold`` marked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from auditkit.analyzers.metric_spec import MetricSpec, find_spec
from auditkit.report.axis_figures import MAX_ROWS, humanize, in_sentence, metric_label
from auditkit.report.distribution import bin_values, count_at_or_above, histogram_plot
from auditkit.report.evidence import OutputScan
from auditkit.report.figure import Figure
from auditkit.report.forest import Reference, forest_plot
from auditkit.report.plain import finite
from auditkit.report.svg import Estimate, Numbers, slug

__all__ = [
    "breakdown_figures",
    "headline_figures",
    "histogram_figures",
    "ideal_figures",
    "ideal_key",
]

_MAX_BREAKDOWNS = 2
_MAX_SCORE_HISTOGRAMS = 2


def _estimate(m: Mapping[str, Any], label: str) -> Estimate:
    def num(x: Any) -> float | None:
        return float(x) if finite(x) else None

    n = m.get("n")
    return Estimate(label=label, value=num(m.get("value")), low=num(m.get("ci_low")), high=num(m.get("ci_high")),
                    n=int(n) if finite(n) else None)


def _label(group: Mapping[str, Any] | None) -> str:
    return "all" if not group else ", ".join(f"{k}={v}" for k, v in group.items())


def _numbers(spec: MetricSpec | None, metric: Mapping[str, Any]) -> Numbers:
    unit = metric.get("unit")
    return Numbers.of(spec, unit=str(unit) if unit else None)


def _by_name(metrics: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for m in metrics:
        out.setdefault(str(m.get("name")), []).append(m)
    return out


def _ideal_figure(name: str, metric: str, items: Sequence[Mapping[str, Any]], spec: MetricSpec,
                  ideal: float) -> Figure | None:
    usable = [m for m in items if len(m.get("group") or {}) <= 2]
    if not usable or not any(finite(m.get("value")) for m in usable):
        return None
    usable.sort(key=lambda m: (len(m.get("group") or {}), _label(m.get("group"))))
    rows = [_estimate(m, _label(m.get("group"))) for m in usable[:MAX_ROWS]]
    numbers = _numbers(spec, usable[0])
    more = f" (first {len(rows)} of {len(usable)})" if len(rows) < len(usable) else ""
    title = f"{metric_label(name=metric, spec=spec)} against its ideal value {numbers.show(ideal)}{more}"
    far = max((r for r in rows if finite(r.value)), key=lambda r: abs((r.value or 0.0) - ideal))
    alt = (f"{title}. " + "; ".join(f"{r.label} {numbers.show(r.value)}{numbers.interval(r)}" for r in rows)
           + f". Farthest from the ideal: {far.label} ({numbers.show(far.value)}).")
    if spec.description:
        alt += f" {spec.description}"
    key = ideal_key(name=name, metric=metric)
    svg = forest_plot(uid=f"fig-{key}", title=title, desc=alt, rows=rows,
                      references=[Reference(value=ideal, label="ideal", kind="ideal")], numbers=numbers,
                      axis_label=in_sentence(metric_label(name=metric, spec=spec)))
    return Figure(title=title, alt=alt, svg=svg, key=key)


def ideal_key(*, name: str, metric: str) -> str:
    return f"{slug(name)}-ideal-{slug(metric)}"


def ideal_figures(*, name: str, metrics: Sequence[Mapping[str, Any]], specs: Sequence[MetricSpec]) -> list[Figure]:
    """One chart per benchmark score with a declared ideal (``direction == "target"``); metrics broken
    down by more than two attributes (a fairness audit's pairwise gaps) are left to other charts."""
    figures = []
    by_name = _by_name(metrics)
    for metric, items in by_name.items():
        spec = find_spec(specs=specs, name=metric)
        if spec is not None and spec.direction == "target" and spec.target is not None:
            figure = _ideal_figure(name, metric, items, spec, spec.target)
            if figure is not None:
                figures.append(figure)
    if figures:  # a benchmark: its percentages that are better higher read against 100%
        for metric, items in by_name.items():
            spec = find_spec(specs=specs, name=metric)
            if spec is not None and spec.direction == "higher_is_better" and spec.percent:
                figure = _ideal_figure(name, metric, items, spec, 1.0)
                if figure is not None:
                    figures.append(figure)
    return figures


def _separation(rows: Sequence[Estimate]) -> tuple[float, float]:
    """How clearly the groups differ: highest lower bound minus lowest upper bound, then the spread."""
    lows = [r.low for r in rows if finite(r.low)]
    highs = [r.high for r in rows if finite(r.high)]
    values = [r.value for r in rows if finite(r.value)]
    gap = max(lows) - min(highs) if lows and highs else float("-inf")
    return gap, (max(values) - min(values) if values else 0.0)


def _breakdown_candidates(metrics: Sequence[Mapping[str, Any]], metric: str) -> dict[str, list[Mapping[str, Any]]]:
    keyed: dict[str, list[Mapping[str, Any]]] = {}
    for m in metrics:
        group = m.get("group") or {}
        if m.get("name") == metric and isinstance(group, Mapping) and len(group) == 1:
            keyed.setdefault(str(next(iter(group))), []).append(m)
    return {k: v for k, v in keyed.items() if len(v) >= 2 and any(finite(m.get("value")) for m in v)}


def _order(metrics: Sequence[Mapping[str, Any]], specs: Sequence[MetricSpec]) -> list[str]:
    """Metric names by importance: declared spec order (informational ones last), then first appearance."""
    names = list(dict.fromkeys(str(m.get("name")) for m in metrics))
    declared = [spec for spec in specs if spec.direction != "none"]

    def rank(metric: str) -> int:
        return next((i for i, s in enumerate(declared) if s.matches(name=metric)), len(declared))

    return sorted(names, key=rank)


def breakdown_figures(*, name: str, metrics: Sequence[Mapping[str, Any]], specs: Sequence[MetricSpec],
                      skip: Iterable[str] = ()) -> list[Figure]:
    """The first important metric that is broken down by a single attribute, by its (at most two) most
    clearly separated attributes."""
    skipped = set(skip)
    for metric in _order(metrics, specs):
        if metric in skipped:
            continue
        candidates = _breakdown_candidates(metrics, metric)
        if not candidates:
            continue
        spec = find_spec(specs=specs, name=metric)
        overall = next((m for m in metrics if m.get("name") == metric and not m.get("group")), None)
        ranked = sorted(candidates, key=lambda k: (_separation([_estimate(m, "") for m in candidates[k]]), k),
                        reverse=True)
        return [_breakdown(name, metric, key, candidates[key], spec, overall) for key in ranked[:_MAX_BREAKDOWNS]]
    return []


def _breakdown(name: str, metric: str, key: str, items: Sequence[Mapping[str, Any]], spec: MetricSpec | None,
               overall: Mapping[str, Any] | None) -> Figure:
    rows = [_estimate(m, str((m.get("group") or {}).get(key))) for m in items]
    rows.sort(key=lambda e: (not finite(e.value), -(e.value if finite(e.value) else 0.0), e.label))
    shown = rows[:MAX_ROWS]
    numbers = _numbers(spec, items[0])
    more = f" ({len(shown)} highest of {len(rows)})" if len(shown) < len(rows) else ""
    title = f"{metric_label(name=metric, spec=spec)} by {humanize(key)}, with 95% intervals{more}"
    alt = f"{title}. " + "; ".join(f"{r.label} {numbers.show(r.value)}{numbers.interval(r)}" for r in shown) + "."
    refs = []
    if overall is not None and finite(overall.get("value")):
        refs.append(Reference(value=float(overall["value"]), label="overall", kind="overall"))
        alt += f" Overall: {numbers.show(float(overall['value']))}."
    fig_key = f"{slug(name)}-by-{slug(key)}-{slug(metric)}"
    svg = forest_plot(uid=f"fig-{fig_key}", title=title, desc=alt, rows=shown, references=refs, numbers=numbers,
                      axis_label=in_sentence(metric_label(name=metric, spec=spec)))
    return Figure(title=title, alt=alt, svg=svg, key=fig_key)


def headline_figures(*, name: str, metrics: Sequence[Mapping[str, Any]],
                     specs: Sequence[MetricSpec]) -> list[Figure]:
    """The analyzer's overall metrics that read on one scale (its percentages, else its most common unit)
    side by side, in declared order: for analyzers whose results have no richer shape to draw."""
    overall = [m for m in metrics if not m.get("group") and finite(m.get("value"))]
    scales: dict[tuple[bool, str], list[Mapping[str, Any]]] = {}
    for m in overall:
        spec = find_spec(specs=specs, name=str(m.get("name")))
        numbers = _numbers(spec, m)
        scales.setdefault((numbers.percent, numbers.unit or ""), []).append(m)
    if not scales:
        return []
    (percent, unit), items = max(scales.items(), key=lambda kv: (kv[0][0], len(kv[1])))
    order = _order(items, specs)
    items = sorted(items, key=lambda m: order.index(str(m.get("name"))))[:MAX_ROWS]
    numbers = Numbers(percent=percent, unit=unit or None)
    rows = [_estimate(m, in_sentence(metric_label(name=str(m.get("name")),
                                                  spec=find_spec(specs=specs, name=str(m.get("name"))))))
            for m in items]
    title = f"{humanize(name).capitalize()}: {'rates' if percent else 'overall metrics'}, with 95% intervals"
    alt = f"{title}. " + "; ".join(f"{r.label} {numbers.show(r.value)}{numbers.interval(r)}" for r in rows) + "."
    key = f"{slug(name)}-headline"
    svg = forest_plot(uid=f"fig-{key}", title=title, desc=alt, rows=rows, references=[], numbers=numbers,
                      axis_label="rate" if percent else "value")
    return [Figure(title=title, alt=alt, svg=svg, key=key)]


def _summary_histogram(value: Any) -> tuple[list[float], list[int]] | None:
    if not isinstance(value, Mapping):
        return None
    raw_edges: Any = value.get("edges") or value.get("bins") or value.get("bin_edges")
    raw_counts: Any = value.get("counts")
    try:
        edges = [float(e) for e in raw_edges]
        counts = [int(c) for c in raw_counts]
    except (TypeError, ValueError):
        return None
    ok = len(edges) == len(counts) + 1 and counts and all(finite(e) for e in edges) and min(counts) >= 0
    return (edges, counts) if ok else None


def _histogram(name: str, key: str, label: str, edges: list[float], counts: list[int],
               threshold: float | None) -> Figure:
    numbers = Numbers()
    total = sum(counts)
    title = f"Distribution of {label} over {total:,} outputs"
    top = max(range(len(counts)), key=lambda i: counts[i])
    alt = (f"{title}, in {len(counts)} bins from {numbers.show(edges[0])} to {numbers.show(edges[-1])}. "
           f"Most outputs ({counts[top]:,}, {counts[top] / max(total, 1):.0%}) score between "
           f"{numbers.show(edges[top])} and {numbers.show(edges[top + 1])}.")
    line = threshold if threshold is not None and edges[0] <= threshold <= edges[-1] else None
    if line is not None:
        over, exact = count_at_or_above(edges, counts, line)
        alt += (f" {'' if exact else 'At least '}{over:,} ({over / max(total, 1):.1%}) at or above the threshold "
                f"{numbers.show(line)}.")
    fig_key = f"{slug(name)}-distribution-{slug(key)}"
    svg = histogram_plot(uid=f"fig-{fig_key}", title=title, desc=alt, edges=edges, counts=counts, threshold=line,
                         x_label=label, numbers=numbers)
    return Figure(title=title, alt=alt, svg=svg, key=fig_key)


def histogram_figures(*, name: str, summary: Mapping[str, Any], scan: OutputScan | None) -> list[Figure]:
    """The summary's score histogram, or (with a ``scan``) per-output scores of this analyzer binned
    (never one mark per output: the chart's size does not grow with the run). Scores that are all 0 or 1
    (flags) get none."""
    threshold = float(summary["threshold"]) if finite(summary.get("threshold")) else None
    hist = _summary_histogram(summary.get("histogram"))
    if hist is not None:
        return [_histogram(name, "score", f"{humanize(name)} score", hist[0], hist[1], threshold)]
    if scan is None:
        return []
    figures: list[Figure] = []
    keys = sorted(k for k in scan.values if k.split(".", 1)[0] == name)
    for key in keys:
        if len(figures) == _MAX_SCORE_HISTOGRAMS:
            break
        values = scan.values[key]
        if len(values) < 2 or all(v in (0.0, 1.0) for v in values):  # a flag: two bars say no more than its rate
            continue
        edges, counts = bin_values(list(values))
        figures.append(_histogram(name, key, key, edges, counts, threshold))
    return figures
