"""What a metric means, declared once by the analyzer that computes it: direction, target, unit, display.

An analyzer lists its metrics on its class (``metric_specs``); the engine copies them into results.json
(``analyses.<analyzer>.metric_specs``), so the report and the gate judge a change from the run's own
declaration instead of guessing from the metric's name::

    class LengthAnalyzer:
        metric_specs = (
            MetricSpec(name="mean_chars", direction="none", unit="characters",
                       description="Mean output length."),
            MetricSpec(name="refusal_rate", direction="lower_is_better", unit="fraction", percent=True,
                       description="Share of outputs that decline the request."),
            MetricSpec(name="score_*", direction="higher_is_better",
                       description="One metric per scorer class (a name pattern: '*' matches any text)."),
        )

Directions: ``lower_is_better``, ``higher_is_better``, ``target`` (best at ``target``, e.g. CrowS-Pairs'
0.5 or a signed gap's 0: a change is better when the value moves closer to it) and ``none``
(informational: a change is reported without a judgement).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal, get_args

__all__ = [
    "DIRECTIONS",
    "Direction",
    "MetricSpec",
    "find_spec",
    "specs_from_json",
    "specs_to_json",
]

Direction = Literal["lower_is_better", "higher_is_better", "target", "none"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)

_NAME = re.compile(r"^[A-Za-z0-9_*][A-Za-z0-9_.*-]*$")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """The declared meaning of one metric (or of a family of metrics, by a ``*`` name pattern)."""

    name: str
    """The metric's ``name`` in results.json, or a pattern where ``*`` matches any text (``mean_*``)."""
    direction: Direction = "none"
    """Which way is better; ``none`` means no judgement (informational)."""
    target: float | None = None
    """The best value, for ``direction="target"`` only."""
    unit: str | None = None
    """Unit of the value (``fraction``, ``J``, ``tokens/s``...); ``None`` for unitless scores."""
    description: str = ""
    """One sentence for people: what the number measures."""
    percent: bool = False
    """Display hint: the value is a fraction best shown as a percentage."""
    points: bool = False
    """Display hint, with ``percent``: the value is a difference of two fractions, read in percentage points
    ("5 pp"), never "%" (a gap from 10% to 15% is 5 points, not 5%)."""
    label: str = ""
    """What people call the metric, for charts and the report ("Toxic fraction", "Share of stereotyped
    sentences preferred (CrowS-Pairs)"); empty: the report tidies the name."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"metric spec name {self.name!r}: use letters, digits, '_', '.', '-' and '*'")
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"metric spec {self.name!r}: direction {self.direction!r} is not one of {', '.join(DIRECTIONS)}"
            )
        if (self.direction == "target") != (self.target is not None):
            raise ValueError(f"metric spec {self.name!r}: give 'target' exactly when direction is 'target'")
        if self.points and not self.percent:
            raise ValueError(f"metric spec {self.name!r}: 'points' reads a percentage as points; set 'percent' too")
        if self.target is not None and not math.isfinite(self.target):
            raise ValueError(f"metric spec {self.name!r}: target must be a finite number")

    @property
    def is_pattern(self) -> bool:
        return "*" in self.name

    def matches(self, *, name: str) -> bool:
        """Whether the metric called ``name`` is the one (or one of those) this spec declares."""
        return fnmatchcase(name, self.name) if self.is_pattern else name == self.name

    def judge(self, *, old: float, new: float) -> Literal["better", "worse", "same"] | None:
        """Is ``new`` better than ``old``? ``None`` when the metric is informational."""
        if self.direction == "none":
            return None
        if self.direction == "target":
            assert self.target is not None
            old, new = -abs(old - self.target), -abs(new - self.target)
        elif self.direction == "lower_is_better":
            old, new = -old, -new
        return "better" if new > old else "worse" if new < old else "same"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "direction": self.direction,
            "target": self.target,
            "unit": self.unit,
            "description": self.description,
            "percent": self.percent,
            "points": self.points,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricSpec:
        target = data.get("target")
        return cls(
            name=str(data["name"]),
            direction=data.get("direction", "none"),
            target=None if target is None else float(target),
            unit=None if data.get("unit") is None else str(data["unit"]),
            description=str(data.get("description") or ""),
            percent=bool(data.get("percent", False)),
            points=bool(data.get("points", False)) and bool(data.get("percent", False)),
            label=str(data.get("label") or ""),
        )


def find_spec(*, specs: Sequence[MetricSpec], name: str) -> MetricSpec | None:
    """The spec of the metric ``name``: an exact name wins over a pattern; the first match otherwise."""
    exact = next((s for s in specs if not s.is_pattern and s.name == name), None)
    return exact or next((s for s in specs if s.is_pattern and s.matches(name=name)), None)


def specs_to_json(specs: Sequence[MetricSpec]) -> list[dict[str, Any]]:
    return [s.to_dict() for s in specs]


def specs_from_json(data: Any) -> tuple[MetricSpec, ...]:
    """Specs read back from results.json; entries that are not valid specs are left out (a hand-edited or
    foreign file must not break a report, it only loses the judgement)."""
    if not isinstance(data, list):
        return ()
    found = []
    for entry in data:
        if not isinstance(entry, Mapping) or "name" not in entry:
            continue
        try:
            found.append(MetricSpec.from_dict(entry))
        except (TypeError, ValueError):
            continue
    return tuple(found)
