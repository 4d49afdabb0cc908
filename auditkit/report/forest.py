"""Forest plots (one row per group: estimate and 95% interval against reference lines) and gap plots
(gaps with their intervals against the practical threshold and the band the audit could not detect).

Marks carry classes (``point``, ``ci``, ``ref-overall``, ``ref-ideal``, ``threshold``, ``mde-band``) and
``data-value`` so tests, and readers of the source, can tell what each mark stands for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

from auditkit.report.plain import finite
from auditkit.report.svg import COLORS, WIDTH, Estimate, Numbers, Scale, clip, hatch_pattern, svg_shell, text

__all__ = [
    "Reference",
    "forest_plot",
    "gap_class",
    "gap_plot",
]

LABEL_W = 210
RIGHT = WIDTH - 28
ROW_H = 24
_REF_STYLE = {
    "overall": (COLORS["muted"], "2 3"),
    "ideal": (COLORS["ok"], "9 3 2 3"),
    "threshold": (COLORS["alarm"], "6 3"),
}


@dataclass(frozen=True, slots=True)
class Reference:
    """A vertical reference line: the overall rate, a benchmark's ideal value, a threshold."""

    value: float
    label: str
    kind: Literal["overall", "ideal", "threshold"]


def _grid(scale: Scale, *, top: float, bottom: float, numbers: Numbers) -> list[str]:
    parts = []
    for t in scale.tick_values():
        x = scale.x(t)
        parts.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{COLORS["grid"]}"/>')
        parts.append(text(x, bottom + 15, numbers.show(t), anchor="middle", cls="tick", size=11, fill=COLORS["muted"]))
    parts.append(f'<line x1="{scale.left}" y1="{bottom:.1f}" x2="{scale.right}" y2="{bottom:.1f}" '
                 f'stroke="{COLORS["axis"]}"/>')
    return parts


def _row_label(y: float, label: str, tip: str) -> str:
    return (f'<text x="{LABEL_W - 10}" y="{y + 4:.1f}" text-anchor="end" class="label" font-size="12" '
            f'fill="{COLORS["ink"]}">{escape(clip(label))}<title>{escape(tip)}</title></text>')


def _whisker(scale: Scale, e: Estimate, y: float, color: str) -> list[str]:
    if not e.has_interval:
        return []
    assert e.low is not None and e.high is not None
    x1, x2 = scale.clamp(e.low), scale.clamp(e.high)
    return [f'<line class="ci" x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-width="2" data-low="{e.low:.6g}" data-high="{e.high:.6g}"/>'] + [
        f'<line x1="{xx:.1f}" y1="{y - 5:.1f}" x2="{xx:.1f}" y2="{y + 5:.1f}" stroke="{color}" stroke-width="2"/>'
        for xx in (x1, x2)]


def _marker(x: float, y: float, *, shape: str, color: str, label: str, value: float) -> str:
    data = f'class="point" data-label="{escape(label)}" data-value="{value:.6g}"'
    if shape == "square":
        return f'<rect {data} x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{color}"/>'
    if shape == "hollow":
        return f'<circle {data} cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#ffffff" stroke="{color}" stroke-width="2"/>'
    return f'<circle {data} cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{color}"/>'


def _tip(e: Estimate, numbers: Numbers, *, signed: bool = False) -> str:
    n = f", n={e.n:,}" if e.n else ""
    return f"{e.label}: {numbers.show(e.value, signed=signed)}{numbers.interval(e)}{n}"


def _vertical(scale: Scale, ref: Reference, *, bottom: float, label_y: float, numbers: Numbers) -> list[str]:
    color, dash = _REF_STYLE[ref.kind]
    x = scale.clamp(ref.value)
    anchor = "end" if x > (scale.left + scale.right) / 2 else "start"
    dx = -4 if anchor == "end" else 4
    cls = "threshold" if ref.kind == "threshold" else f"ref ref-{ref.kind}"
    return [
        f'<line class="{cls}" data-value="{ref.value:.6g}" x1="{x:.1f}" y1="{label_y - 4:.1f}" x2="{x:.1f}" '
        f'y2="{bottom:.1f}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>',
        text(x + dx, label_y, f"{ref.label} {numbers.show(ref.value)}", anchor=anchor, cls="ref-label", size=11,
             fill=color),
    ]


def forest_plot(*, uid: str, title: str, desc: str, rows: Sequence[Estimate], references: Sequence[Reference],
                numbers: Numbers, axis_label: str, zero: bool = True) -> Markup:
    """One row per estimate (in the given order) with its interval; reference lines across all rows.

    Rows without a value read "n/a" (never 0). The x axis includes 0 when ``zero`` so differences between
    groups are not exaggerated.
    """
    top = 20 + 14 * len(references)
    scale = Scale.covering([v for r in rows for v in (r.value, r.low, r.high)] + [r.value for r in references],
                           left=LABEL_W, right=RIGHT, zero=zero)
    bottom = top + ROW_H * max(len(rows), 1)
    parts = _grid(scale, top=top - 6, bottom=bottom, numbers=numbers)
    for j, ref in enumerate(references):
        if finite(ref.value):
            parts += _vertical(scale, ref, bottom=bottom, label_y=14 + 14 * j, numbers=numbers)
    for i, e in enumerate(rows):
        y = top + ROW_H * i + ROW_H / 2
        parts.append(f'<g class="row">{_row_label(y, e.label, _tip(e, numbers))}')
        if finite(e.value):
            parts += _whisker(scale, e, y, COLORS["point"])
            parts.append(_marker(scale.clamp(e.value), y, shape="circle", color=COLORS["point"], label=e.label,
                                 value=e.value))
        else:
            parts.append(text(LABEL_W + 4, y + 4, "n/a", cls="na", size=11, fill=COLORS["alarm"]))
        parts.append("</g>")
    parts.append(text(RIGHT, bottom + 32, numbers.axis_label(axis_label), anchor="end", cls="axis",
                      fill=COLORS["muted"]))
    return svg_shell(uid=uid, title=title, desc=desc, height=bottom + 42, body=parts)


def gap_class(e: Estimate, threshold: float | None) -> str:
    """``beyond`` (shown to differ from 0 and the gap reaches the threshold), ``differs`` (shown to differ
    only), ``unclear`` (not shown to differ). "Shown to differ" is the analyzer's corrected test when the
    estimate carries one, so the chart never marks a gap the findings do not; else the interval excluding 0."""
    if not finite(e.value):
        return "unclear"
    if e.significant is not None:
        if not e.significant:
            return "unclear"
    elif not (finite(e.low) and finite(e.high)) or e.low <= 0 <= e.high:
        return "unclear"
    if threshold is not None and abs(e.value) >= threshold:
        return "beyond"
    return "differs"


_GAP_MARK = {"beyond": ("square", COLORS["alarm"]), "differs": ("circle", COLORS["point"]),
             "unclear": ("hollow", COLORS["point"])}


def _legend(y: float) -> list[str]:
    items = [("beyond", "reaches the threshold"), ("differs", "differs from 0, under it"),
             ("unclear", "could be chance")]
    parts, x = [], 16.0
    for kind, words in items:
        shape, color = _GAP_MARK[kind]
        if shape == "square":
            parts.append(f'<rect x="{x - 5:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        else:
            fill = "#ffffff" if shape == "hollow" else color
            parts.append(f'<circle cx="{x:.1f}" cy="{y - 4:.1f}" r="5" fill="{fill}" stroke="{color}" '
                         f'stroke-width="2"/>')
        parts.append(text(x + 10, y, words, cls="legend", size=11, fill=COLORS["muted"]))
        x += 30 + 6.3 * len(words)
    parts.append(f'<rect x="{x - 6:.1f}" y="{y - 10:.1f}" width="14" height="12" fill="url(#LEGEND)"/>')
    parts.append(text(x + 12, y, "too small to detect", cls="legend", size=11, fill=COLORS["muted"]))
    return parts


def gap_plot(*, uid: str, title: str, desc: str, rows: Sequence[Estimate], threshold: float | None,
             mde: float | None, numbers: Numbers, axis_label: str) -> Markup:
    """Gaps (0 = parity) with intervals; dashed lines at ± the practical threshold, a hatched band over
    ± the minimum detectable effect. Markers say at a glance which gaps reach the threshold."""
    t = abs(threshold) if finite(threshold) else None
    m = abs(mde) if finite(mde) else None
    top = 48
    extent = [v for r in rows for v in (r.value, r.low, r.high)] + [x for x in (t, m) if x is not None]
    scale = Scale.covering(extent + [-v for v in extent if finite(v)], left=LABEL_W, right=RIGHT, symmetric=True)
    bottom = top + ROW_H * max(len(rows), 1)
    parts = [hatch_pattern(uid)]
    if m is not None and m > 0:
        x1, x2 = scale.clamp(-m), scale.clamp(m)
        parts.append(f'<rect class="mde-band" data-value="{m:.6g}" x="{x1:.1f}" y="{top - 6}" '
                     f'width="{x2 - x1:.1f}" height="{bottom - top + 6:.1f}" fill="url(#{uid}-hatch)" '
                     f'fill-opacity="0.7"/>')
        parts.append(text(scale.x(0), 14, f"hatched: gaps under {numbers.show(m)} this audit could not detect",
                          anchor="middle", cls="ref-label", size=11, fill=COLORS["muted"]))
    parts += _grid(scale, top=top - 6, bottom=bottom, numbers=numbers)
    parts.append(f'<line class="zero" x1="{scale.x(0):.1f}" y1="{top - 6}" x2="{scale.x(0):.1f}" y2="{bottom:.1f}" '
                 f'stroke="{COLORS["ink"]}" stroke-width="1"/>')
    if t is not None and t > 0:
        for sign in (-1, 1):
            x = scale.clamp(sign * t)
            parts.append(f'<line class="threshold" data-value="{sign * t:.6g}" x1="{x:.1f}" y1="{top - 14}" '
                         f'x2="{x:.1f}" y2="{bottom:.1f}" stroke="{COLORS["alarm"]}" stroke-width="2" '
                         f'stroke-dasharray="6 3"/>')
        x = scale.clamp(t)
        near_edge = x > RIGHT - 170
        parts.append(text(x - 4 if near_edge else x + 4, 32, f"practical threshold ±{numbers.show(t)}",
                          anchor="end" if near_edge else "start", cls="threshold-label", size=11,
                          fill=COLORS["alarm"]))
    for i, e in enumerate(rows):
        y = top + ROW_H * i + ROW_H / 2
        parts.append(f'<g class="row">{_row_label(y, e.label, _tip(e, numbers, signed=True))}')
        if finite(e.value):
            shape, color = _GAP_MARK[gap_class(e, t)]
            parts += _whisker(scale, e, y, color)
            parts.append(_marker(scale.clamp(e.value), y, shape=shape, color=color, label=e.label, value=e.value))
        else:
            parts.append(text(LABEL_W + 4, y + 4, "n/a", cls="na", size=11, fill=COLORS["alarm"]))
        parts.append("</g>")
    parts.append(text(RIGHT, bottom + 32, numbers.axis_label(axis_label), anchor="end", cls="axis",
                      fill=COLORS["muted"]))
    legend = [p.replace("url(#LEGEND)", f"url(#{uid}-hatch)") for p in _legend(bottom + 52)]
    return svg_shell(uid=uid, title=title, desc=desc, height=bottom + 62, body=parts + legend)
