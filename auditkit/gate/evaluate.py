"""Policy rules applied to a run's metrics (and optionally a baseline run's) → a gate decision.

Each rule reads the metrics its selector matches and applies its threshold check (to the point estimate
or a CI bound) and/or its regression test against the baseline. A rule fails when any matched metric
fails. A metric that is absent, or whose needed number is n/a (e.g. energy not measured), is *missing*:
by default that is an ``error`` status, which blocks like a failure, because a gate that silently passes
on a typo is worse than none; ``missing: warn|skip`` relaxes it per rule. Regression p-values are
corrected across every regression test of the policy (Holm by default) before they meet ``alpha``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from auditkit.analyzers.metadata import RunMetricSpecs
from auditkit.errors import ConfigError
from auditkit.gate.baseline import ChangeTest, Untestable, check_compatible, compare_metric, metric_key
from auditkit.gate.policy import Policy, RuleSpec, load_policy, resolve_policy

__all__ = [
    "GateDecision",
    "RuleResult",
    "decide",
    "evaluate_policy",
    "metric_label",
]

Status = Literal["pass", "fail", "warn", "error", "skipped"]

_NEGATION = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}
_COMPARE = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


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

    @property
    def blocking(self) -> bool:
        return self.status in ("fail", "error")

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
        return {
            s: sum(r.status == s for r in self.rules) for s in ("pass", "fail", "warn", "error", "skipped")
        }

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


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class _Check:
    """One matched metric under one rule, filled in as the evaluation proceeds."""

    metric: Mapping[str, Any]
    label: str
    observed: float | None = None
    threshold_ok: bool | None = None
    slack: float = math.inf
    """Distance from the threshold on the passing side (negative when failing)."""
    base: Mapping[str, Any] | None = None
    test: ChangeTest | None = None
    p_value: float | None = None
    significant: bool | None = None
    problems: list[str] = field(default_factory=list)
    """Why part of the check could not run (n/a): makes the rule 'missing'."""
    messages: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.threshold_ok is False or self.significant is True

    def evidence(self) -> dict[str, Any]:
        m, b, t = self.metric, self.base, self.test
        return {
            "metric": self.label,
            "group": dict(m.get("group") or {}) or None,
            "value": _num(m.get("value")),
            "ci_low": _num(m.get("ci_low")),
            "ci_high": _num(m.get("ci_high")),
            "n": m.get("n"),
            "method": m.get("method"),
            "observed": self.observed,
            "threshold_ok": self.threshold_ok,
            "baseline": None
            if b is None
            else {k: (_num(b.get(k)) if k != "n" else b.get(k)) for k in ("value", "ci_low", "ci_high", "n")},
            "difference": None if t is None else t.difference,
            "margin": None if t is None else t.margin,
            "p_raw": None if t is None else t.p_value,
            "p_value": self.p_value,
            "significant": self.significant,
            "test": None if t is None else t.method,
            "passed": not self.failed and not self.problems,
            "problems": list(self.problems),
        }


def _threshold(check: _Check, rule: RuleSpec) -> None:
    bound = rule.bound
    observed = _num(check.metric.get(bound))
    if observed is None:
        if _num(check.metric.get("value")) is None:
            why = str(check.metric.get("method") or "not computed")
            check.problems.append(f"{check.label} is n/a ({why})")
        else:
            check.problems.append(f"{check.label} {bound} is n/a (the metric has no interval)")
        return
    assert rule.comparison is not None and rule.threshold is not None
    check.observed = observed
    check.threshold_ok = _COMPARE[rule.comparison](observed, rule.threshold)
    check.slack = (
        (rule.threshold - observed) if rule.comparison in ("<=", "<") else (observed - rule.threshold)
    )
    op = rule.comparison if check.threshold_ok else _NEGATION[rule.comparison]
    text = f"{check.label} {bound} = {observed:.4g} {op} {rule.threshold:g}"
    check.messages.append(
        text if check.threshold_ok else f"{text} (required {rule.comparison} {rule.threshold:g})"
    )


def _regression(check: _Check, rule: RuleSpec, old: Mapping[str, Any] | None) -> None:
    spec = rule.regression
    assert spec is not None
    if old is None:
        check.problems.append(f"{check.label} is not in the baseline run")
        return
    check.base = old
    margin = spec.max_increase
    if spec.max_relative_increase is not None and _num(old.get("value")) is not None:
        margin = spec.max_relative_increase * abs(float(old["value"]))
    try:
        check.test = compare_metric(
            new=check.metric, old=old, margin=margin, direction=spec.direction or "higher_is_worse"
        )
    except Untestable as exc:
        check.problems.append(f"{check.label}: regression not testable: {exc}")
        return
    if check.observed is None:  # a regression-only rule reports the point estimate it compared
        check.observed = _num(check.metric.get("value"))


def _regression_message(check: _Check, rule: RuleSpec, correction: str) -> str:
    t, spec = check.test, rule.regression
    assert t is not None and spec is not None and check.base is not None and check.p_value is not None
    old, new = _num(check.base.get("value")), _num(check.metric.get("value"))
    change = (
        f"{abs(t.difference):.3g} {'worse' if t.difference > 0 else 'better'}"
        if t.difference
        else "unchanged"
    )
    adjusted = "" if correction == "none" else f", {correction}-adjusted"
    verdict = (
        f"significant regression (p = {check.p_value:.3g}{adjusted} < alpha {spec.alpha:g})"
        if check.significant
        else f"within noise (p = {check.p_value:.3g}{adjusted} ≥ alpha {spec.alpha:g})"
    )
    return (
        f"{check.label}: baseline {old:.4g} → {new:.4g} ({change}, allowed {t.margin:.3g} worse); {verdict}"
    )


def _missing_message(rule: RuleSpec, metrics: list[Mapping[str, Any]]) -> str:
    selector = rule.selector
    same_name = [
        m for m in metrics if m.get("analyzer") == selector.analyzer and m.get("name") == selector.name
    ]
    if same_name:
        groups = sorted({metric_label(m) for m in same_name})
        return f"no metric matches {selector.text}; the run has {', '.join(groups[:8])}"
    names = sorted({f"{m.get('analyzer')}.{m.get('name')}" for m in metrics})
    close = difflib.get_close_matches(selector.metric, names, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    analyzers = sorted({str(m.get("analyzer")) for m in metrics})
    if selector.analyzer not in analyzers:
        return (
            f"no metric {selector.metric} in the results: analyzer '{selector.analyzer}' did not run "
            f"(ran: {', '.join(analyzers) or 'none'}).{hint}"
        )
    return f"no metric {selector.metric} in the results.{hint}"


def _status(rule: RuleSpec, checks: list[_Check], missing: bool, evaluated: bool) -> Status:
    failed = any(c.failed for c in checks)
    missing = missing and rule.missing != "skip"
    if failed and rule.severity == "fail":
        return "fail"
    if missing and rule.missing == "fail":
        return "error"
    if failed or missing:
        return "warn"
    return "pass" if evaluated else "skipped"


def _with_direction(rule: RuleSpec, specs: RunMetricSpecs) -> RuleSpec:
    """The rule with its regression direction settled: as the policy says, else as the metric's
    analyzer declares it (a target or informational metric, or none declared: higher is worse)."""
    spec = rule.regression
    if spec is None or spec.direction is not None:
        return rule
    declared = specs.spec({"analyzer": rule.selector.analyzer, "name": rule.selector.name})
    direction = "lower_is_worse" if declared is not None and declared.direction == "higher_is_better" else (
        "higher_is_worse"
    )
    return rule.model_copy(update={"regression": spec.model_copy(update={"direction": direction})})


def decide(
    *,
    results: Mapping[str, Any],
    policy: Policy,
    baseline: Mapping[str, Any] | None = None,
    baseline_label: str | None = None,
) -> GateDecision:
    """Apply ``policy`` to ``results`` (a results.json document), optionally against ``baseline``."""
    from auditkit.gate.metric_names import check_rule_metrics
    from auditkit.stats import adjust_p_values

    check_rule_metrics(policy=policy, results=results)  # a typo is exit 2, not a failed gate
    metrics = [m for m in results.get("metrics") or [] if isinstance(m, Mapping)]
    regression_rules = [r for r in policy.rules if r.regression is not None]
    if baseline is not None:
        check_compatible(
            current=results, baseline=baseline, analyzers={r.selector.analyzer for r in policy.rules}
        )
    old_by_key = {metric_key(m): m for m in (baseline or {}).get("metrics") or [] if isinstance(m, Mapping)}

    specs = RunMetricSpecs(results=results)
    per_rule: list[tuple[RuleSpec, list[_Check]]] = []
    for rule in (_with_direction(r, specs) for r in policy.rules):
        checks = [_Check(metric=m, label=metric_label(m)) for m in rule.selector.select(metrics)]
        for check in checks:
            if rule.comparison is not None:
                _threshold(check, rule)
            if rule.regression is not None and baseline is not None:
                _regression(check, rule, old_by_key.get(metric_key(check.metric)))
        per_rule.append((rule, checks))

    tested = [(rule, c) for rule, checks in per_rule for c in checks if c.test is not None]
    raw = [c.test.p_value for _, c in tested]  # type: ignore[union-attr]
    correction = policy.spec.correction
    adjusted = raw if correction == "none" else adjust_p_values(p_values=raw, method=correction)
    for (rule, check), p in zip(tested, adjusted, strict=True):
        check.p_value = p
        check.significant = p < rule.regression.alpha  # type: ignore[union-attr]
        check.messages.append(_regression_message(check, rule, correction))

    outcomes = [
        _rule_result(rule, checks, metrics, policy.line("rules", index), baseline is not None)
        for index, (rule, checks) in enumerate(per_rule)
    ]
    notes: list[str] = []
    if baseline is None and regression_rules:
        notes.append(
            f"{len(regression_rules)} regression rule(s) had no baseline (--baseline DIR) to compare with."
        )
    if results.get("status") == "incomplete":
        reason = (results.get("manifest") or {}).get("reason") or "see the manifest"
        outcomes.append(
            RuleResult(
                id="run-complete",
                metric="",
                selector="",
                comparison=None,
                threshold=None,
                on="value",
                severity="fail",
                status="fail",
                observed=None,
                baseline=None,
                p_value=None,
                message=f"the audit run is incomplete ({reason}); a gate cannot pass on partial results",
            )
        )
    label = None
    if baseline is not None:
        manifest = baseline.get("manifest") or {}
        label = {
            "run": baseline_label,
            "model": (manifest.get("model") or {}).get("model"),
            "created_at": manifest.get("created_at"),
        }
    return GateDecision(
        policy=policy.display,
        name=policy.name,
        rules=tuple(outcomes),
        baseline=label,
        correction=correction,
        notes=tuple(notes),
    )


def _rule_result(
    rule: RuleSpec, checks: list[_Check], metrics: list[Mapping[str, Any]], line: int, has_baseline: bool
) -> RuleResult:
    messages: list[str] = []
    if not checks:
        missing, evaluated = True, False
        messages.append(_missing_message(rule, metrics))
    else:
        missing = any(c.problems for c in checks)
        evaluated = any(c.threshold_ok is not None or c.test is not None for c in checks)
    status = _status(rule, checks, missing, evaluated)
    ranked = sorted(
        checks,
        key=lambda c: (not c.failed, not c.problems, c.slack, c.p_value if c.p_value is not None else 2.0),
    )
    deciding = ranked[0] if ranked else None
    failing = [c for c in checks if c.failed]
    if len(checks) > 1:
        head = (
            f"{len(failing)} of {len(checks)} matched metrics fail"
            if failing
            else f"all {len(checks)} matched metrics pass"
            if not missing
            else f"{len(checks)} matched metrics"
        )
        messages.append(head)
    shown = failing or [c for c in checks if c.problems] or ranked[:1]
    for check in shown[:5]:
        messages.extend(check.problems)
        messages.extend(check.messages)
    if len(shown) > 5:
        messages.append(f"(and {len(shown) - 5} more)")
    if rule.regression is not None and not has_baseline:
        messages.append("regression check skipped: no --baseline run given")
    if status == "error":
        messages.append(
            "missing counts as a failure; set 'missing: warn' or 'missing: skip' on the rule to relax it"
        )
    return RuleResult(
        id=rule.rule_id,
        metric=rule.selector.metric,
        selector=rule.selector.text,
        comparison=rule.comparison,
        threshold=rule.threshold,
        on=rule.bound,
        severity=rule.severity,
        status=status,
        observed=deciding.observed if deciding else None,
        baseline=_num(deciding.base.get("value")) if deciding and deciding.base else None,
        p_value=deciding.p_value if deciding else None,
        message="; ".join(messages),
        evidence=tuple(c.evidence() for c in checks),
        description=rule.description,
        regression=rule.regression.model_dump() if rule.regression else None,
        line=line,
    )


def evaluate_policy(
    *,
    results: Mapping[str, Any],
    policy_path: Path,
    baseline: Mapping[str, Any] | None = None,
    baseline_dir: Path | None = None,
) -> GateDecision:
    """Load the policy at ``policy_path`` and decide on ``results`` (a results.json document).

    The baseline is either a results document (``baseline``) or a run directory (``baseline_dir``).
    ``ConfigError`` (exit 2) for a bad policy or an incomparable baseline; a failed gate is not an
    exception — check ``decision.passed`` / ``decision.exit_code``.
    """
    if baseline is not None and baseline_dir is not None:
        raise ConfigError("give the baseline once: either a results document or a run directory")
    policy = load_policy(path=resolve_policy(ref=policy_path))
    label = None
    if baseline_dir is not None:
        from auditkit.engine.results import load_results

        baseline = load_results(run_dir=Path(baseline_dir)).data
        label = str(baseline_dir)
    return decide(results=results, policy=policy, baseline=baseline, baseline_label=label)
