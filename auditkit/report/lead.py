"""What the report leads with: the findings as plain sentences, how sure we are, what the audit could
not detect and what it did not test — laid out from the run's summary for the first screen.

Each finding links to its section's evidence (``#finding-N`` of :func:`auditkit.report.context.finding_views`);
each interval becomes a bar drawn in the template from the positions computed here (percent of the bar's
width), so the template only lays out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditkit.report.context import FindingView, fmt

__all__ = ["IntervalBar", "KeyMetric", "LeadFinding", "LeadView", "interval_bar", "lead_view"]


@dataclass(frozen=True, slots=True)
class IntervalBar:
    """An estimate and its interval on a scale, as percentages of the bar's width (0 = left end)."""

    low: float
    value: float
    high: float
    zero: float | None
    """Where 0 sits, when the scale crosses it (gaps); None for scales starting at 0."""
    scale: str
    """The two ends in words, e.g. "0% to 100%"."""


@dataclass(frozen=True, slots=True)
class LeadFinding:
    sentence: str
    severity: str
    anchor: str
    """The finding's evidence in its analyzer section."""
    how_sure: str
    interval: str
    bar: IntervalBar | None


@dataclass(frozen=True, slots=True)
class KeyMetric:
    label: str
    words: str
    """The estimate and its interval in words."""
    bar: IntervalBar | None


@dataclass(frozen=True, slots=True)
class LeadView:
    findings: tuple[LeadFinding, ...]
    key_metrics: tuple[KeyMetric, ...]
    limits: tuple[str, ...]
    not_tested: tuple[str, ...]


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def interval_bar(*, value: Any, low: Any, high: Any, percent: bool) -> IntervalBar | None:
    """A bar for ``value`` in [``low``, ``high``]; rates on 0–100%, other figures on a scale around 0."""
    if not (_finite(value) and _finite(low) and _finite(high)):
        return None
    if percent and 0 <= low <= high <= 1:
        top = 1.0 if high > 0.5 else 0.5 if high > 0.2 else 0.2

        def pos(v: float) -> float:
            return round(100 * min(max(v / top, 0.0), 1.0), 2)

        return IntervalBar(low=pos(low), value=pos(value), high=pos(high), zero=None,
                           scale=f"0% to {top:.0%}")
    reach = max(abs(low), abs(high), abs(value)) or 1.0
    lo, hi = (-reach, reach) if low < 0 or value < 0 else (0.0, reach)

    def at(v: float) -> float:
        return round(100 * (v - lo) / (hi - lo), 2)

    return IntervalBar(low=at(low), value=at(value), high=at(high), zero=at(0.0) if lo < 0 else None,
                       scale=f"{fmt(lo, 2)} to {fmt(hi, 2)}")


def _fallback(f: FindingView, finding: Mapping[str, Any]) -> LeadFinding:
    """Until the summary names one: the finding's own title, its interval from its details."""
    details = finding.get("details") or {}
    value = details.get("gap", details.get("rate", finding.get("effect_size")))
    low, high = details.get("ci_low"), details.get("ci_high")
    percent = "rate" in details or str(details.get("measure", "")) in ("toxic", "negative_sentiment", "refusal",
                                                                          "regard_negative")
    interval = f"between {fmt(low, 2)} and {fmt(high, 2)}" if _finite(low) and _finite(high) else ""
    return LeadFinding(sentence=f.title, severity=f.severity, anchor=f.anchor, how_sure="", interval=interval,
                       bar=interval_bar(value=value, low=low, high=high, percent=percent))


def lead_view(*, results: Mapping[str, Any], findings: Sequence[FindingView], not_tested: Sequence[str]) -> LeadView:
    """The lead sections' content for this run."""
    raw = [f for f in results.get("findings") or [] if isinstance(f, Mapping)]
    leads = tuple(_fallback(f, raw[f.index]) for f in findings if 0 <= f.index < len(raw))
    limits = []
    for entry in (results.get("analyses") or {}).values():
        for statement in ((entry or {}).get("summary") or {}).get("statements") or []:
            if "could have detected" in str(statement):
                limits.append(str(statement))
    return LeadView(findings=leads, key_metrics=(), limits=tuple(limits), not_tested=tuple(not_tested))
