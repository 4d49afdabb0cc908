"""Charts for the HTML report, drawn as inline SVG in Python.

No JavaScript and no external assets: the report's Content Security Policy forbids both. Every piece of
text that reaches the SVG (group names, titles, axis labels) goes through ``markupsafe.escape``, because
group names and metric names can come from user suites and plugins. Colours are SVG presentation
attributes, never ``style=""`` attributes, which the hash-based ``style-src`` policy would block.

Each chart is ``role="img"`` with an ``aria-label`` and a ``<title>`` so screen readers announce it; the
same numbers always also appear in a table next to the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from typing import TypeGuard

from markupsafe import Markup, escape

__all__ = [
    "Bar",
    "IntervalRow",
    "bar_chart",
    "histogram",
    "interval_chart",
]

_WIDTH = 640
_LABEL_W = 190
_RIGHT_PAD = 24
_ROW_H = 26
_ids = count(1)


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """One row of an error-bar chart: a point estimate with its 95% interval."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a bar chart."""

    label: str
    value: float | None


def _finite(x: float | None) -> TypeGuard[float]:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def _fmt(x: float) -> str:
    """Compact number for axis ticks and labels."""
    if x == 0:
        return "0"
    magnitude = abs(x)
    if magnitude >= 1000 or magnitude < 0.001:
        return f"{x:.2e}"
    if magnitude >= 100:
        return f"{x:.0f}"
    if magnitude >= 1:
        return f"{x:.2f}".rstrip("0").rstrip(".")
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """'Nice' tick positions (1, 2, 5 × 10^k steps) covering [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _open(*, title: str, height: int, desc: str) -> tuple[str, str]:
    uid = f"chart{next(_ids)}"
    head = (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        f'role="img" aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def interval_chart(*, rows: Sequence[IntervalRow], title: str, unit: str | None = None) -> Markup:
    """Horizontal dot-and-whisker chart: one row per group, the 95% interval as an error bar.

    Rows without a value are drawn as "n/a" (never as 0). The x axis starts at 0 when every value is
    non-negative, so gaps between groups are not exaggerated.
    """
    points = [x for r in rows for x in (r.value, r.low, r.high) if _finite(x)]
    lo = min(points, default=0.0)
    hi = max(points, default=1.0)
    if lo >= 0:
        lo = 0.0
    if hi <= lo:
        hi = lo + 1.0
    ticks = _ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    plot_w = _WIDTH - _LABEL_W - _RIGHT_PAD
    height = 28 + _ROW_H * len(rows) + 34

    def x_of(v: float) -> float:
        return _LABEL_W + (v - lo) / (hi - lo) * plot_w

    desc = "; ".join(
        f"{r.label}: {_fmt(r.value) if _finite(r.value) else 'n/a'}"
        + (f" (95% CI {_fmt(r.low)} to {_fmt(r.high)})" if _finite(r.low) and _finite(r.high) else "")
        + f", n={r.n}"
        for r in rows
    )
    head, tail = _open(title=title, height=height, desc=desc)
    parts = [head]
    axis_y = 20 + _ROW_H * len(rows)
    for t in ticks:
        x = x_of(t)
        parts.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{axis_y}" stroke="#e3e6ea" stroke-width="1"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" class="tick">{escape(_fmt(t))}</text>')
    parts.append(f'<line x1="{_LABEL_W}" y1="{axis_y}" x2="{_WIDTH - _RIGHT_PAD}" y2="{axis_y}" stroke="#8a939c"/>')
    if unit:
        parts.append(
            f'<text x="{_WIDTH - _RIGHT_PAD}" y="{axis_y + 30}" text-anchor="end" class="axis">{escape(unit)}</text>'
        )
    for i, r in enumerate(rows):
        y = 26 + _ROW_H * i
        parts.append(f'<text x="{_LABEL_W - 8}" y="{y + 4}" text-anchor="end" class="label">'
                     f'{escape(_clip(r.label))}<title>{escape(r.label)} (n={r.n})</title></text>')
        if not _finite(r.value):
            parts.append(f'<text x="{_LABEL_W + 4}" y="{y + 4}" class="na">n/a</text>')
            continue
        if _finite(r.low) and _finite(r.high):
            x1, x2 = x_of(r.low), x_of(r.high)
            parts.append(f'<line x1="{x1:.1f}" y1="{y}" x2="{x2:.1f}" y2="{y}" stroke="#1f5f99" stroke-width="2"/>')
            for xx in (x1, x2):
                parts.append(f'<line x1="{xx:.1f}" y1="{y - 6}" x2="{xx:.1f}" y2="{y + 6}" '
                             'stroke="#1f5f99" stroke-width="2"/>')
        parts.append(f'<circle cx="{x_of(r.value):.1f}" cy="{y}" r="5" fill="#1f5f99"/>')
    parts.append(tail)
    return Markup("".join(parts))


def histogram(
    *,
    edges: Sequence[float],
    counts: Sequence[int],
    title: str,
    x_label: str,
    threshold: float | None = None,
) -> Markup:
    """Vertical histogram from bin edges (len(counts) + 1) and counts; an optional threshold line."""
    if len(edges) != len(counts) + 1 or not counts:
        raise ValueError("histogram needs len(edges) == len(counts) + 1 and at least one bin")
    height, left, bottom, top = 220, 56, 44, 16
    plot_w = _WIDTH - left - _RIGHT_PAD
    plot_h = height - bottom - top
    lo, hi = float(edges[0]), float(edges[-1])
    if hi <= lo:
        hi = lo + 1.0
    peak = max(max(counts), 1)

    def x_of(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    desc = f"{sum(counts)} values in {len(counts)} bins from {_fmt(lo)} to {_fmt(hi)}; tallest bin {max(counts)}"
    head, tail = _open(title=title, height=height, desc=desc)
    parts = [head]
    base = top + plot_h
    for t in (t for t in _ticks(0, peak, 4) if float(t).is_integer()):  # counts are whole numbers
        y = base - t / peak * plot_h
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT_PAD}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{escape(_fmt(t))}</text>')
    for i, c in enumerate(counts):
        x1, x2 = x_of(float(edges[i])), x_of(float(edges[i + 1]))
        h = c / peak * plot_h
        parts.append(
            f'<rect x="{x1 + 0.5:.1f}" y="{base - h:.1f}" width="{max(x2 - x1 - 1, 0.5):.1f}" height="{h:.1f}" '
            f'fill="#4a86c5"><title>{escape(_fmt(float(edges[i])))}–{escape(_fmt(float(edges[i + 1])))}: '
            f'{int(c)}</title></rect>'
        )
    parts.append(f'<line x1="{left}" y1="{base}" x2="{_WIDTH - _RIGHT_PAD}" y2="{base}" stroke="#8a939c"/>')
    for t in _ticks(lo, hi, 5):
        if lo <= t <= hi:
            parts.append(f'<text x="{x_of(t):.1f}" y="{base + 16}" text-anchor="middle" class="tick">'
                         f'{escape(_fmt(t))}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" class="axis">'
                 f'{escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" class="axis" '
                 f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">count</text>')
    if threshold is not None and lo <= threshold <= hi:
        x = x_of(threshold)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" stroke="#b3261e" stroke-width="2" '
                     f'stroke-dasharray="5 3"/>')
        parts.append(f'<text x="{x + 4:.1f}" y="{top + 10}" class="threshold">'
                     f'threshold {escape(_fmt(threshold))}</text>')
    parts.append(tail)
    return Markup("".join(parts))


def bar_chart(*, bars: Sequence[Bar], title: str, unit: str | None = None) -> Markup:
    """Horizontal bars, one per label; missing values are written "n/a" (never drawn as 0)."""
    values = [b.value for b in bars if _finite(b.value)]
    hi = max([v for v in values if v is not None] + [0.0])
    lo = min([v for v in values if v is not None] + [0.0])
    if hi <= lo:
        hi = lo + 1.0
    ticks = _ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    plot_w = _WIDTH - _LABEL_W - _RIGHT_PAD - 40
    height = 28 + _ROW_H * len(bars) + 34

    def x_of(v: float) -> float:
        return _LABEL_W + (v - lo) / (hi - lo) * plot_w

    desc = "; ".join(f"{b.label}: {_fmt(b.value) if _finite(b.value) else 'n/a'}" for b in bars)
    head, tail = _open(title=title, height=height, desc=desc)
    parts = [head]
    axis_y = 20 + _ROW_H * len(bars)
    for t in ticks:
        x = x_of(t)
        parts.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{axis_y}" stroke="#e3e6ea"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" class="tick">{escape(_fmt(t))}</text>')
    if unit:
        parts.append(f'<text x="{_WIDTH - _RIGHT_PAD}" y="{axis_y + 30}" text-anchor="end" class="axis">'
                     f'{escape(unit)}</text>')
    zero = x_of(0.0)
    for i, b in enumerate(bars):
        y = 26 + _ROW_H * i
        parts.append(f'<text x="{_LABEL_W - 8}" y="{y + 4}" text-anchor="end" class="label">'
                     f'{escape(_clip(b.label))}<title>{escape(b.label)}</title></text>')
        if not _finite(b.value):
            parts.append(f'<text x="{_LABEL_W + 4}" y="{y + 4}" class="na">n/a</text>')
            continue
        x = x_of(b.value)
        parts.append(f'<rect x="{min(x, zero):.1f}" y="{y - 8}" width="{max(abs(x - zero), 0.5):.1f}" height="16" '
                     f'fill="#4a86c5"/>')
        parts.append(f'<text x="{max(x, zero) + 4:.1f}" y="{y + 4}" class="tick">{escape(_fmt(b.value))}</text>')
    parts.append(f'<line x1="{zero:.1f}" y1="14" x2="{zero:.1f}" y2="{axis_y}" stroke="#8a939c"/>')
    parts.append(tail)
    return Markup("".join(parts))
