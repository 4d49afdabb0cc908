"""Histograms of scores, from bin edges and counts (never from one mark per output, so a 100k-output
report draws the same few dozen rectangles as a small one), with the decision threshold marked.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from auditkit.report.plain import finite
from auditkit.report.svg import COLORS, WIDTH, Numbers, Scale, svg_shell, text

__all__ = [
    "bin_values",
    "count_at_or_above",
    "histogram_plot",
]

_LEFT = 64
_RIGHT = WIDTH - 28
_TOP = 30
_PLOT_H = 170


def bin_values(values: Sequence[float], *, bins: int = 20) -> tuple[list[float], list[int]]:
    """Edges and counts of finite ``values``; scores within [0, 1] are binned over [0, 1]."""
    import numpy as np

    data = np.asarray([v for v in values if finite(v)], dtype=float)
    if data.size == 0:
        return [0.0, 1.0], [0]
    lo, hi = float(data.min()), float(data.max())
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    elif hi - lo <= 1e-9 * max(1.0, abs(lo)):  # all (nearly) equal: centre them in a narrow range
        pad = abs(lo) * 0.1 or 0.5
        lo, hi = lo - pad, hi + pad
    counts, edges = np.histogram(data, bins=bins, range=(lo, hi))
    return [float(e) for e in edges], [int(c) for c in counts]


def count_at_or_above(edges: Sequence[float], counts: Sequence[int], threshold: float) -> tuple[int, bool]:
    """Values in bins starting at or above ``threshold``, and whether that count is exact (the threshold is
    a bin edge) rather than a lower bound."""
    total = sum(int(c) for lo, c in zip(edges[:-1], counts, strict=True) if lo >= threshold - 1e-12)
    exact = any(abs(e - threshold) <= 1e-9 for e in edges) or threshold <= edges[0] or threshold > edges[-1]
    return total, exact


def histogram_plot(*, uid: str, title: str, desc: str, edges: Sequence[float], counts: Sequence[int],
                   threshold: float | None, x_label: str, numbers: Numbers) -> Markup:
    """Vertical bars, one per bin; bins at or above the threshold are drawn dark red, and the threshold
    as a dashed line (so it reads in greyscale too)."""
    if len(edges) != len(counts) + 1 or not counts:
        raise ValueError("histogram needs len(edges) == len(counts) + 1 and at least one bin")
    scale = Scale.covering([edges[0], edges[-1]], left=_LEFT, right=_RIGHT, zero=False)
    peak = max(max(counts), 1)
    base = _TOP + _PLOT_H
    parts = []
    count_scale = Scale.covering([0, peak], left=0, right=_PLOT_H, ticks=4)
    for t in count_scale.tick_values():
        if t > count_scale.hi or not float(t).is_integer():
            continue
        y = base - count_scale.x(t)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_RIGHT}" y2="{y:.1f}" stroke="{COLORS["grid"]}"/>')
        parts.append(text(_LEFT - 6, y + 4, f"{int(t):,}", anchor="end", cls="tick", size=11, fill=COLORS["muted"]))
    for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
        x1, x2 = scale.x(float(lo)), scale.x(float(hi))
        h = max(count_scale.x(c) - count_scale.x(0), 1.0 if c else 0.0)  # a tail bin of 1 stays visible
        over = threshold is not None and lo >= threshold - 1e-12
        parts.append(
            f'<rect class="bin{" over" if over else ""}" data-low="{lo:.6g}" data-high="{hi:.6g}" data-count="{c}" '
            f'x="{x1 + 0.5:.1f}" y="{base - h:.1f}" width="{max(x2 - x1 - 1, 0.5):.1f}" height="{h:.1f}" '
            f'fill="{COLORS["alarm"] if over else COLORS["bar"]}"><title>{escape(numbers.show(lo))} to '
            f'{escape(numbers.show(hi))}: {int(c):,}</title></rect>')
        if c and len(counts) <= 25:  # the count on each bar: a long tail of small bins is still readable
            parts.append(text((x1 + x2) / 2, base - h - 3, f"{int(c):,}", anchor="middle", cls="tick", size=10,
                              fill=COLORS["muted"]))
    parts.append(f'<line x1="{_LEFT}" y1="{base}" x2="{_RIGHT}" y2="{base}" stroke="{COLORS["axis"]}"/>')
    for t in scale.tick_values():
        parts.append(text(scale.x(t), base + 15, numbers.show(t), anchor="middle", cls="tick", size=11,
                          fill=COLORS["muted"]))
    parts.append(text((_LEFT + _RIGHT) / 2, base + 34, numbers.axis_label(x_label), anchor="middle", cls="axis",
                      fill=COLORS["muted"]))
    parts.append(text(14, _TOP + _PLOT_H / 2, "outputs", anchor="middle", cls="axis", fill=COLORS["muted"],
                      extra=f' transform="rotate(-90 14 {_TOP + _PLOT_H / 2:.1f})"'))
    if threshold is not None and edges[0] <= threshold <= edges[-1]:
        x = scale.x(threshold)
        parts.append(f'<line class="threshold" data-value="{threshold:.6g}" x1="{x:.1f}" y1="{_TOP - 12}" '
                     f'x2="{x:.1f}" y2="{base}" stroke="{COLORS["alarm"]}" stroke-width="2" stroke-dasharray="6 3"/>')
        parts.append(text(x + 4, _TOP - 14, f"threshold {numbers.show(threshold)}", cls="threshold-label", size=11,
                          fill=COLORS["alarm"]))
    return svg_shell(uid=uid, title=title, desc=desc, height=base + 44, body=parts)
