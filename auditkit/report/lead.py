"""What the HTML report leads with, laid out from the run's :class:`~auditkit.report.summary.ReportSummary`:
the findings as plain sentences (each linked to its evidence), how sure we are (intervals as words and
bars), what the audit could not detect and what it did not test.

The summary says it (the Markdown export says the same); this module only places it: each finding gets
the anchor of its evidence in the analyzer sections (``#finding-N`` of
:func:`auditkit.report.context.finding_views`), and each interval a bar whose positions (percent of the
bar's width) are computed here, so the template only lays out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditkit.report.context import FindingView, fmt
from auditkit.report.limits import FoldedLimit, fold_limits
from auditkit.report.plain import PlainInterval, finite
from auditkit.report.summary import DetectionLimit, NotTested, ReportSummary

__all__ = ["IntervalBar", "KeyMetric", "LeadFinding", "LeadView", "interval_bar", "lead_view"]

LIMITS_IN_VIEW = 8
"""Limits listed in the lead (those that may hide an effect that matters come first); the rest fold."""


@dataclass(frozen=True, slots=True)
class IntervalBar:
    """An estimate and its interval on a scale, as percentages of the bar's width (0 = left end)."""

    low: float
    value: float
    high: float
    zero: float | None
    """Where 0 sits, when the scale crosses it (differences); None for scales starting at 0."""
    threshold: float | None
    """Where the practical threshold sits, when there is one on the scale."""
    scale: str
    """The two ends in words, e.g. "0% to 50%"."""


@dataclass(frozen=True, slots=True)
class LeadFinding:
    sentence: str
    how_sure: str
    severity: str
    anchor: str
    """The finding's evidence in its analyzer section ("" when the finding has no section entry)."""
    bar: IntervalBar | None


@dataclass(frozen=True, slots=True)
class KeyMetric:
    label: str
    description: str
    words: str
    """The estimate and its interval in words."""
    bar: IntervalBar | None
    metric: str = ""
    """``analyzer.name``, shown under a declared label (empty when the label is that id)."""
    caveat: str = ""
    """What the analyzer says the number does not mean (shown under it)."""


@dataclass(frozen=True, slots=True)
class LeadView:
    findings: tuple[LeadFinding, ...]
    key_metrics: tuple[KeyMetric, ...]
    limits: tuple[FoldedLimit, ...]
    """In view, one line per measure: those that may hide an effect that matters first."""
    more_limits: tuple[DetectionLimit, ...]
    """Every limit on its own (axis by axis), folded away."""
    not_tested: tuple[NotTested, ...]


def interval_bar(*, interval: PlainInterval | None) -> IntervalBar | None:
    """A bar for the interval: shares on 0 to 20/50/100%, other figures on a scale around 0."""
    if interval is None:
        return None
    value, low, high, threshold = interval.value, interval.ci_low, interval.ci_high, interval.threshold
    if not (finite(value) and finite(low) and finite(high)):
        return None
    assert value is not None and low is not None and high is not None  # for mypy: checked just above
    marks = [abs(v) for v in (value, low, high, threshold) if v is not None and finite(v)]
    if interval.percent and 0 <= low <= high <= 1 and min(value, low) >= 0:
        top = next(t for t in (0.2, 0.5, 1.0) if max(marks) <= t)
        lo, hi = 0.0, top
        scale = f"0% to {top:.0%}"
    else:
        reach = max(marks) or 1.0
        lo, hi = (-reach, reach) if min(value, low) < 0 else (0.0, reach)
        scale = (f"{fmt(lo * 100, 2)} to {fmt(hi * 100, 2)} points" if interval.percent
                 else f"{fmt(lo, 2)} to {fmt(hi, 2)}")

    def at(v: float) -> float:
        return round(100 * min(max((v - lo) / (hi - lo), 0.0), 1.0), 2)

    return IntervalBar(low=at(low), value=at(value), high=at(high), zero=at(0.0) if lo < 0 else None,
                       threshold=at(threshold) if threshold is not None and finite(threshold) else None,
                       scale=scale)


def lead_view(*, summary: ReportSummary, findings: Sequence[FindingView]) -> LeadView:
    """The lead sections' content for this run, in the order the summary gives it."""
    anchors = {f.index: f.anchor for f in findings}
    leads = tuple(LeadFinding(sentence=p.sentence, how_sure=p.how_sure, severity=p.severity,
                              anchor=anchors.get(p.finding_index, ""), bar=interval_bar(interval=p.interval))
                  for p in summary.findings)
    keys = tuple(KeyMetric(label=k.label or f"{k.analyzer}.{k.name}",
                           metric=f"{k.analyzer}.{k.name}" if k.label else "", description=k.description,
                           words=f"{k.view.value}{(' ' + k.view.unit) if k.view.unit else ''}, "
                                 f"95% interval {k.view.interval}",
                           bar=interval_bar(interval=k.interval), caveat=k.caveat) for k in summary.key_metrics)
    folded = fold_limits(limits=summary.limits)
    shown = folded[:LIMITS_IN_VIEW]
    more = summary.limits if len(summary.limits) > len(shown) else ()
    return LeadView(findings=leads, key_metrics=keys, limits=shown,
                    more_limits=more, not_tested=summary.not_tested)
