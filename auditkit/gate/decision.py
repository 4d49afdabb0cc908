"""The gate's records: one rule's outcome (:class:`RuleResult`) and the whole decision (:class:`GateDecision`).

Statuses: ``pass``, ``fail`` (a limit violated or a significant regression), ``underpowered`` (the rule
states the regression it must see, ``detect:``, and the audit was too small to see it; blocks like a
failure), ``warn``, ``error`` (missing metric; blocks) and ``skipped``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from auditkit.gate.baseline import metric_key

__all__ = ["GateDecision", "RuleResult", "STATUSES", "Status", "metric_label", "number"]

Status = Literal["pass", "fail", "underpowered", "warn", "error", "skipped"]
STATUSES: tuple[str, ...] = ("pass", "fail", "underpowered", "warn", "error", "skipped")
"""Every status, in the order counts are reported."""


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The outcome of one rule; ``to_dict`` is its entry in results.json ``gate.rules``."""

    id: str
    metric: str
    """``analyzer.name`` the rule reads."""
    selector: str
    """The selector in canonical form, with its group filter."""
    comparison: str | None
    threshold: float | None
    on: str
    """``value``, ``ci_low`` or ``ci_high`` (aliases resolved)."""
    severity: str
    status: Status
    observed: float | None
    """The number compared, of the deciding metric (the failing one, else the closest to its limit)."""
    baseline: float | None
    p_value: float | None
    """Adjusted one-sided p-value of the deciding regression test."""
    message: str
    evidence: tuple[Mapping[str, Any], ...] = ()
    """One entry per matched metric: its numbers, the baseline's, the test."""
    description: str = ""
    regression: Mapping[str, Any] | None = None
    line: int = 0
    """Line of the rule in the policy file."""
    difference: float | None = None
    """Worsening (positive = worse) of the deciding regression test, in the metric's units."""
    mdr: float | None = None
    """Minimum detectable regression of the deciding regression test (80% power, corrected alpha)."""
    detect: float | None = None
    """The regression the rule must be able to see (policy ``detect:``)."""
    outputs_needed: int | None = None
    """Outputs per run that would let the deciding test see ``detect`` (when it could not)."""
    underpowered: bool = False
    """The audit was too small for ``detect`` (status ``underpowered``, or ``warn`` when relaxed)."""

    @property
    def blocking(self) -> bool:
        return self.status in ("fail", "error", "underpowered")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "metric": self.metric,
            "selector": self.selector,
            "comparison": self.comparison,
            "threshold": self.threshold,
            "on": self.on,
            "severity": self.severity,
            "status": self.status,
            # ``passed`` mirrors status for readers that only want a yes/no per rule.
            "passed": not self.blocking,
            "observed": self.observed,
            "baseline": self.baseline,
            "p_value": self.p_value,
            "message": self.message,
            "evidence": [dict(e) for e in self.evidence],
            "description": self.description,
            "regression": dict(self.regression) if self.regression else None,
            "line": self.line,
            "difference": self.difference,
            "mdr": self.mdr,
            "detect": self.detect,
            "outputs_needed": self.outputs_needed,
            "underpowered": self.underpowered,
        }


@dataclass(frozen=True)
class GateDecision(Mapping[str, Any]):
    """The gate's verdict. It also reads as a mapping — its results.json ``gate`` entry — so callers that
    expect a plain dict (``dict(decision)``) get one."""

    policy: str
    """The policy file as shown to the user."""
    name: str
    rules: tuple[RuleResult, ...]
    baseline: Mapping[str, Any] | None = None
    """Which run was the baseline (path, model, created_at), or ``None``."""
    correction: str = "holm"
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not any(r.blocking for r in self.rules)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.rules) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "name": self.name,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "baseline": dict(self.baseline) if self.baseline else None,
            "correction": self.correction,
            "notes": list(self.notes),
            "rules": [r.to_dict() for r in self.rules],
        }

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


def metric_label(metric: Mapping[str, Any]) -> str:
    """``analyzer.name`` plus ``{key=value,...}`` for grouped metrics."""
    _, _, group = metric_key(metric)
    base = f"{metric.get('analyzer')}.{metric.get('name')}"
    return base + ("{" + ",".join(f"{k}={v}" for k, v in group) + "}" if group else "")


def number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


