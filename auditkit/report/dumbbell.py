"""Dumbbells: per gated metric, the baseline run's value → this run's value, against the policy's limit.

Gated metrics have different units (a rate, joules, a score), so each row gets its own scale, printed at
both ends of the row. Baseline is a hollow diamond, the current value a filled circle (a square when the
rule fails), the limit a dashed red line: the marks differ by shape, not only by colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from auditkit.report.plain import finite
from auditkit.report.svg import COLORS, WIDTH, Estimate, Numbers, Scale, clip, svg_shell, text

__all__ = [
    "DumbbellRow",
    "dumbbell_chart",
]

_LABEL_W = 250
_RIGHT = WIDTH - 60
_ROW_H = 52


@dataclass(frozen=True, slots=True)
class DumbbellRow:
    """One gated metric: this run's estimate, the baseline's (if any) and the rule's limit (if any)."""

    label: str
    detail: str
    """Second line under the label, e.g. "fail · must be ≤ 5%"."""
    current: Estimate
    baseline: Estimate | None
    limit: float | None
    numbers: Numbers
    failed: bool = False


def _whisker(scale: Scale, e: Estimate, y: float, color: str, cls: str) -> list[str]:
    if not e.has_interval:
        return []
    assert e.low is not None and e.high is not None
    x1, x2 = scale.x(e.low), scale.x(e.high)
    return [f'<line class="{cls}-ci" x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-width="1.5"/>']


def _row(row: DumbbellRow, top: float) -> list[str]:
    points = [row.current.value, row.current.low, row.current.high, row.limit]
    if row.baseline is not None:
        points += [row.baseline.value, row.baseline.low, row.baseline.high]
    scale = Scale.covering(points, left=_LABEL_W, right=_RIGHT, zero=False, ticks=4)
    y = top + 22
    tip = f"{row.label}: now {row.numbers.show(row.current.value)}{row.numbers.interval(row.current)}"
    if row.baseline is not None:
        tip += f"; baseline {row.numbers.show(row.baseline.value)}{row.numbers.interval(row.baseline)}"
    if row.limit is not None:
        tip += f"; limit {row.numbers.show(row.limit)}"
    parts = [f'<g class="row" data-label="{escape(row.label)}"><title>{escape(tip)}</title>',
             text(_LABEL_W - 10, y - 2, clip(row.label, 36), anchor="end", cls="label"),
             text(_LABEL_W - 10, y + 12, clip(row.detail, 40), anchor="end", cls="tick", size=11,
                  fill=COLORS["alarm"] if row.failed else COLORS["muted"]),
             f'<line x1="{_LABEL_W}" y1="{y + 14:.1f}" x2="{_RIGHT}" y2="{y + 14:.1f}" stroke="{COLORS["grid"]}"/>',
             text(_LABEL_W, y + 26, row.numbers.show(scale.lo), cls="tick", size=10, fill=COLORS["muted"]),
             text(_RIGHT, y + 26, row.numbers.show(scale.hi), anchor="end", cls="tick", size=10,
                  fill=COLORS["muted"])]
    if row.limit is not None and finite(row.limit):
        x = scale.x(row.limit)
        parts.append(f'<line class="threshold" data-value="{row.limit:.6g}" x1="{x:.1f}" y1="{y - 14:.1f}" '
                     f'x2="{x:.1f}" y2="{y + 14:.1f}" stroke="{COLORS["alarm"]}" stroke-width="2" '
                     f'stroke-dasharray="4 2"/>')
    now = row.current.value
    base = row.baseline.value if row.baseline is not None else None
    if finite(now) and finite(base):
        parts.append(f'<line class="change" x1="{scale.x(base):.1f}" y1="{y:.1f}" x2="{scale.x(now):.1f}" '
                     f'y2="{y:.1f}" stroke="{COLORS["axis"]}" stroke-width="3"/>')
    if row.baseline is not None and finite(base):
        parts += _whisker(scale, row.baseline, y - 7, COLORS["baseline"], "baseline")
        bx = scale.x(base)
        parts.append(f'<path class="baseline-point" data-value="{base:.6g}" d="M{bx:.1f} {y - 6:.1f} '
                     f'L{bx + 6:.1f} {y:.1f} L{bx:.1f} {y + 6:.1f} L{bx - 6:.1f} {y:.1f} Z" fill="#ffffff" '
                     f'stroke="{COLORS["baseline"]}" stroke-width="2"/>')
    if finite(now):
        color = COLORS["alarm"] if row.failed else COLORS["point"]
        parts += _whisker(scale, row.current, y + 7, color, "current")
        cx = scale.x(now)
        if row.failed:
            parts.append(f'<rect class="current-point" data-value="{now:.6g}" x="{cx - 5:.1f}" y="{y - 5:.1f}" '
                         f'width="10" height="10" fill="{color}"/>')
        else:
            parts.append(f'<circle class="current-point" data-value="{now:.6g}" cx="{cx:.1f}" cy="{y:.1f}" r="5" '
                         f'fill="{color}"/>')
    else:
        parts.append(text(_LABEL_W + 4, y + 4, "n/a", cls="na", size=11, fill=COLORS["alarm"]))
    parts.append("</g>")
    return parts


def _legend(y: float, *, baseline: bool) -> list[str]:
    parts = [f'<circle cx="16" cy="{y - 4}" r="5" fill="{COLORS["point"]}"/>',
             text(26, y, "this run (square: rule fails)", cls="legend", size=11, fill=COLORS["muted"]),
             f'<line x1="220" y1="{y - 10}" x2="220" y2="{y + 2}" stroke="{COLORS["alarm"]}" stroke-width="2" '
             f'stroke-dasharray="4 2"/>',
             text(228, y, "policy limit", cls="legend", size=11, fill=COLORS["muted"])]
    if baseline:
        parts += [f'<path d="M330 {y - 10} L336 {y - 4} L330 {y + 2} L324 {y - 4} Z" fill="#ffffff" '
                  f'stroke="{COLORS["baseline"]}" stroke-width="2"/>',
                  text(342, y, "baseline run", cls="legend", size=11, fill=COLORS["muted"])]
    return parts


def dumbbell_chart(*, uid: str, title: str, desc: str, rows: Sequence[DumbbellRow]) -> Markup:
    """One row per gated metric, each on its own scale (its range is printed under the row)."""
    parts: list[str] = []
    for i, row in enumerate(rows):
        parts += _row(row, 8 + _ROW_H * i)
    bottom = 8 + _ROW_H * max(len(rows), 1)
    parts += _legend(bottom + 14, baseline=any(r.baseline is not None for r in rows))
    return svg_shell(uid=uid, title=title, desc=desc, height=bottom + 24, body=parts)
