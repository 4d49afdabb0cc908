"""Shared pieces of the report's figures: scales, number words, the accessible ``<svg>`` shell, marks.

Every figure is an inline ``<svg role="img">`` whose ``<title>`` and ``<desc>`` carry the heading and the
numbers in words, labelled by ``aria-labelledby``. Styling uses SVG presentation attributes and classes
only: the report's Content Security Policy forbids ``style=""`` attributes. Thresholds, MDE bands and
reference lines differ by dash pattern, hatching and marker shape as well as by colour, so they stay
distinguishable in greyscale print. Every piece of text goes through ``markupsafe.escape``: group and
metric names come from user suites and plugins.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from auditkit.report.plain import finite

if TYPE_CHECKING:
    from auditkit.analyzers.metric_spec import MetricSpec

__all__ = [
    "COLORS",
    "Estimate",
    "Numbers",
    "Scale",
    "clip",
    "hatch_pattern",
    "slug",
    "svg_shell",
    "text",
]

WIDTH = 720
"""viewBox width: the report's main column is ~760 px at a 1280 px window; the SVG scales to 100% width."""

COLORS = {
    "ink": "#2f3a45",
    "muted": "#5b6570",
    "grid": "#e3e6ea",
    "axis": "#8a939c",
    "point": "#1f5f99",
    "alarm": "#a3201a",
    "ok": "#2e6b34",
    "band": "#9aa3ad",
    "bar": "#4a86c5",
    "baseline": "#6b4f9e",
}


def clip(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def slug(raw: str) -> str:
    """An id fragment safe in XML ids and URLs; a short hash keeps distinct hostile names distinct."""
    clean = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")[:48] or "x"
    if re.search(r"[^A-Za-z0-9_ -]", raw) or len(raw) > 48 or not raw:
        clean += "-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:6]
    return clean


def text(x: float, y: float, content: str, *, anchor: str = "start", cls: str = "label", size: int = 12,
         fill: str = COLORS["ink"], extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}" font-size="{size}" '
            f'fill="{fill}"{extra}>{escape(content)}</text>')


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its 95% interval (either bound may be missing)."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    significant: bool | None = None
    """The analyzer's own verdict after its multiple-testing correction (adjusted p below alpha), when it
    gives one: a bootstrap interval of a few pairs can exclude 0 while the corrected test finds nothing."""

    @property
    def has_interval(self) -> bool:
        return finite(self.low) and finite(self.high)


@dataclass(frozen=True, slots=True)
class Numbers:
    """How a metric's numbers read: as percentages (a fraction) or plain, with an optional unit."""

    percent: bool = False
    unit: str | None = None
    points: str = ""
    """For differences of percentages: the word for a percentage point ("pp" on axes, "points" in words),
    never "%" (a gap from 10% to 15% is 5 points, not 5%)."""

    @classmethod
    def of(cls, spec: MetricSpec | None, *, unit: str | None = None) -> Numbers:
        """How a metric declared by ``spec`` reads (``unit``: the metric's own, when there is no spec)."""
        if spec is None:
            return cls(unit=unit)
        return cls(percent=spec.percent, unit=None if spec.percent else spec.unit, points="pp" if spec.points else "")

    def show(self, value: float | None, *, signed: bool = False, unit: bool = True) -> str:
        if not finite(value):
            return "n/a"
        v = value * 100 if self.percent else value
        sign = "+" if signed and v > 0 else ""
        magnitude = abs(v)
        if v == 0:
            body = "0"
        elif magnitude >= 1000 or magnitude < 0.001:
            body = f"{v:.2e}"
        elif magnitude >= 100:
            body = f"{v:.0f}"
        elif magnitude >= 10 or self.percent:
            body = f"{v:.1f}".rstrip("0").rstrip(".")
        elif magnitude >= 1:
            body = f"{v:.2f}".rstrip("0").rstrip(".")
        else:
            body = f"{v:.3f}".rstrip("0").rstrip(".")
        if self.percent:
            suffix = (f" {self.points}" if unit else "") if self.points else "%"
        else:
            suffix = f" {self.unit}" if unit and self.unit and self.unit != "fraction" else ""
        return f"{sign}{body}{suffix}"

    def interval(self, estimate: Estimate) -> str:
        if not estimate.has_interval:
            return ""
        high = self.show(estimate.high, unit=bool(self.percent and self.points))  # "12 to 26 points"
        return f" (95% CI {self.show(estimate.low, unit=False)} to {high})"

    def axis_label(self, label: str) -> str:
        if self.percent:
            return f"{label} ({'percentage points' if self.points else '%'})"
        return f"{label} ({self.unit})" if self.unit and self.unit != "fraction" else label


@dataclass(frozen=True, slots=True)
class Scale:
    """A linear x scale from a data domain to the pixel range [left, right], with 'nice' ticks."""

    lo: float
    hi: float
    left: float
    right: float
    step: float

    @classmethod
    def covering(cls, values: Iterable[float | None], *, left: float, right: float, zero: bool = True,
                 symmetric: bool = False, ticks: int = 5) -> Scale:
        data = [float(v) for v in values if finite(v)]
        lo, hi = (min(data), max(data)) if data else (0.0, 1.0)
        if zero:
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        if symmetric:
            hi = max(abs(lo), abs(hi))
            lo = -hi
        if hi - lo <= 1e-12 * max(1.0, abs(hi)):  # all equal (e.g. every interval 0 to 0)
            pad = abs(hi) * 0.1 or 0.1
            lo, hi = (lo - pad, hi + pad) if not zero or lo < 0 else (lo, hi + pad)
            if symmetric:
                lo = -hi
        raw = (hi - lo) / ticks
        power = 10 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
        return cls(lo=math.floor(lo / step + 1e-9) * step, hi=math.ceil(hi / step - 1e-9) * step,
                   left=left, right=right, step=step)

    def x(self, value: float) -> float:
        return self.left + (value - self.lo) / (self.hi - self.lo) * (self.right - self.left)

    def clamp(self, value: float) -> float:
        return self.x(min(max(value, self.lo), self.hi))

    def tick_values(self) -> list[float]:
        count = round((self.hi - self.lo) / self.step)
        return [round(self.lo + i * self.step, 12) for i in range(count + 1)]


def hatch_pattern(uid: str) -> str:
    """A diagonal hatch for the 'below what this audit could detect' band: visible without colour."""
    return (f'<defs><pattern id="{uid}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef0f2"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{COLORS["band"]}" stroke-width="2"/></pattern></defs>')


def svg_shell(*, uid: str, title: str, desc: str, height: float, body: Iterable[str]) -> Markup:
    """The accessible ``<svg>``: ``role="img"``, ``<title>`` and ``<desc>`` referenced by id."""
    head = (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" '
        f'role="img" aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMinYMin meet" '
        f'font-family="system-ui, sans-serif" font-size="12">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")
