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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditkit.analyzers.metadata import RunMetricSpecs
from auditkit.errors import ConfigError
from auditkit.gate.baseline import ChangeTest, Untestable, check_compatible, compare_metric, metric_key
from auditkit.gate.decision import GateDecision, RuleResult, Status, metric_label, number
from auditkit.gate.policy import Policy, RuleSpec, load_policy, resolve_policy
from auditkit.gate.power import Detectability, outputs_to_clear, regression_power

__all__ = [
    "GateDecision",
    "RuleResult",
    "decide",
    "evaluate_policy",
    "metric_label",
]

_NEGATION = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}
_COMPARE = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


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
    power: Detectability | None = None
    """What the regression test could have seen (its minimum detectable regression)."""
    problems: list[str] = field(default_factory=list)
    """Why part of the check could not run (n/a): makes the rule 'missing'."""
    messages: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.threshold_ok is False or self.significant is True

    @property
    def underpowered(self) -> bool:
        """Not failed, but too small to see the regression the rule must detect."""
        return not self.failed and self.power is not None and self.power.underpowered

    def evidence(self) -> dict[str, Any]:
        m, b, t = self.metric, self.base, self.test
        return {
            "metric": self.label,
            "group": dict(m.get("group") or {}) or None,
            "value": number(m.get("value")),
            "ci_low": number(m.get("ci_low")),
            "ci_high": number(m.get("ci_high")),
            "n": m.get("n"),
            "method": m.get("method"),
            "observed": self.observed,
            "threshold_ok": self.threshold_ok,
            "baseline": None
            if b is None
            else {k: (number(b.get(k)) if k != "n" else b.get(k)) for k in ("value", "ci_low", "ci_high", "n")},
            "difference": None if t is None else t.difference,
            "margin": None if t is None else t.margin,
            "p_raw": None if t is None else t.p_value,
            "p_value": self.p_value,
            "significant": self.significant,
            "test": None if t is None else t.method,
            "mdr": None if self.power is None else self.power.mdr,
            "power": None if self.power is None else self.power.to_dict(),
            "passed": not self.failed and not self.problems and not self.underpowered,
            "problems": list(self.problems),
        }


def _threshold(check: _Check, rule: RuleSpec) -> None:
    bound = rule.bound
    observed = number(check.metric.get(bound))
    if observed is None:
        if number(check.metric.get("value")) is None:
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
    if check.threshold_ok:
        check.messages.append(text)
        return
    check.messages.append(_too_small_message(check, rule) or f"{text} (required {rule.comparison} {rule.threshold:g})")


def _too_small_message(check: _Check, rule: RuleSpec) -> str | None:
    """When a CI-bound limit fails although the point estimate meets it, the interval is too wide: say so,
    and how many outputs would narrow it enough (the estimate staying as observed)."""
    value = number(check.metric.get("value"))
    if rule.bound not in ("ci_low", "ci_high") or value is None or rule.threshold is None:
        return None
    assert rule.comparison is not None and check.observed is not None
    if not _COMPARE[rule.comparison](value, rule.threshold):
        return None  # the estimate itself is over the limit: a real failure, not a small audit
    below = rule.comparison in ("<=", "<")
    name = f"{check.label}" if check.metric.get("group") else str(check.metric.get("name") or check.label)
    needed = outputs_to_clear(metric=check.metric, bound=rule.bound, threshold=rule.threshold)
    side = "upper" if rule.bound == "ci_high" else "lower"
    text = (
        f"the audit is too small to show the {name.replace('_', ' ')} is {'below' if below else 'above'} "
        f"{_amount(rule.threshold, check.metric)}: {side} bound {_amount(check.observed, check.metric)} "
        f"(estimate {_amount(value, check.metric)}) with n = {check.metric.get('n')}"
    )
    return text + (f"; about {needed} outputs would be needed" if needed else "")


def _amount(value: float, metric: Mapping[str, Any]) -> str:
    """A fraction as a percentage (as the issue's readers think of rates), anything else as a number."""
    method = str(metric.get("method") or "").lower()
    if ("wilson" in method or "proportion" in method) and 0 <= value <= 1:
        return f"{100 * value:.3g}%"
    return f"{value:.4g}"


def _regression(check: _Check, rule: RuleSpec, old: Mapping[str, Any] | None) -> None:
    spec = rule.regression
    assert spec is not None
    if old is None:
        check.problems.append(f"{check.label} is not in the baseline run")
        return
    check.base = old
    margin = spec.max_increase
    if spec.max_relative_increase is not None and number(old.get("value")) is not None:
        margin = spec.max_relative_increase * abs(float(old["value"]))
        if spec.detect is not None and spec.detect <= margin:
            # The policy check can only compare 'detect' with an absolute margin; a relative one is known now.
            check.problems.append(
                f"{check.label}: 'detect' ({spec.detect:g}) must exceed the allowed worsening "
                f"({spec.max_relative_increase:g} x baseline {float(old['value']):.4g} = {margin:.4g}): a worsening "
                "the rule allows cannot be one it must detect; raise 'detect' or lower 'max_relative_increase'"
            )
            return
    try:
        check.test = compare_metric(
            new=check.metric, old=old, margin=margin, direction=spec.direction or "higher_is_worse"
        )
    except Untestable as exc:
        check.problems.append(f"{check.label}: regression not testable: {exc}")
        return
    if check.observed is None:  # a regression-only rule reports the point estimate it compared
        check.observed = number(check.metric.get("value"))


def _regression_message(check: _Check, rule: RuleSpec, correction: str) -> str:
    t, spec = check.test, rule.regression
    assert t is not None and spec is not None and check.base is not None and check.p_value is not None
    old, new = number(check.base.get("value")), number(check.metric.get("value"))
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
    text = f"{check.label}: baseline {old:.4g} → {new:.4g} ({change}, allowed {t.margin:.3g} worse); {verdict}"
    return text + _power_message(check.power, correction)


def _power_message(power: Detectability | None, correction: str) -> str:
    if power is None:
        return ""
    where = f"n = {power.n} vs {power.n_baseline}, {power.power:.0%} power, alpha {power.alpha:.3g} per test" + (
        "" if correction == "none" else f" after {correction}"
    )
    seen = (
        f"smallest detectable regression {power.mdr:.3g}"
        if power.mdr is not None
        else "no regression is detectable at this size"
    )
    text = f"; {seen} ({where})"
    if power.underpowered:
        assert power.detect is not None
        need = (
            f"about {power.outputs_needed} outputs per run would be needed"
            if power.outputs_needed
            else "no audit size would reach it with this test and margin"
        )
        text += (
            f"; underpowered: the audit is too small to see a regression of {power.detect:g} "
            f"(n = {power.n}); {need}"
        )
    return text


def _detectability(check: _Check, rule: RuleSpec, tests: int) -> Detectability | None:
    """The check's MDR at the per-test level the correction leaves (conservatively ``alpha / tests``)."""
    spec, t = rule.regression, check.test
    assert spec is not None and t is not None and check.base is not None
    try:
        return regression_power(
            new=check.metric, old=check.base, alpha=spec.alpha / tests, margin=t.margin,
            direction=spec.direction or "higher_is_worse", detect=spec.detect,
        )
    except Untestable:
        return None


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


def _status(
    rule: RuleSpec, checks: list[_Check], missing: bool, evaluated: bool, underpowered_mode: str
) -> Status:
    failed = any(c.failed for c in checks)
    missing = missing and rule.missing != "skip"
    underpowered = any(c.underpowered for c in checks)
    if failed and rule.severity == "fail":
        return "fail"
    if missing and rule.missing == "fail":
        return "error"
    if underpowered and rule.severity == "fail" and underpowered_mode == "fail":
        return "underpowered"  # a pass would claim a check that could not have caught the regression
    if failed or missing or underpowered:
        return "warn"
    return "pass" if evaluated else "skipped"


def _with_direction(rule: RuleSpec, specs: RunMetricSpecs) -> RuleSpec:
    """The rule with its regression direction settled: as the policy says, else as the metric's
    analyzer declares it (a target or informational metric, or none declared: higher is worse)."""
    spec = rule.regression
    if spec is None or spec.direction is not None:
        return rule
    declared = specs.spec({"analyzer": rule.selector.analyzer, "name": rule.selector.name})
    if declared is not None and declared.direction == "target":
        # Best at a target (CrowS-Pairs' 0.5): a one-sided test would call half of all worsenings gains.
        raise ConfigError(
            f"Policy rule {rule.selector.analyzer}.{rule.selector.name}: the metric is best at "
            f"{declared.target:g}, so a regression needs a side: give `direction: higher_is_worse` or "
            "`direction: lower_is_worse` in the rule's regression, or gate it with absolute limits "
            "(min/max) around the target instead."
        )
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
        check.power = _detectability(check, rule, tests=1 if correction == "none" else len(tested))
        check.messages.append(_regression_message(check, rule, correction))

    outcomes = [
        _rule_result(
            rule, checks, metrics, policy.line("rules", index), baseline is not None,
            rule.underpowered or policy.spec.underpowered,
        )
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
    rule: RuleSpec,
    checks: list[_Check],
    metrics: list[Mapping[str, Any]],
    line: int,
    has_baseline: bool,
    underpowered_mode: str,
) -> RuleResult:
    messages: list[str] = []
    if not checks:
        missing, evaluated = True, False
        messages.append(_missing_message(rule, metrics))
    else:
        missing = any(c.problems for c in checks)
        evaluated = any(c.threshold_ok is not None or c.test is not None for c in checks)
    status = _status(rule, checks, missing, evaluated, underpowered_mode)
    ranked = sorted(
        checks,
        key=lambda c: (
            not c.failed, not c.problems, not c.underpowered, c.slack, c.p_value if c.p_value is not None else 2.0
        ),
    )
    deciding = ranked[0] if ranked else None
    failing = [c for c in checks if c.failed]
    weak = [c for c in checks if c.underpowered]
    if len(checks) > 1:
        head = (
            f"{len(failing)} of {len(checks)} matched metrics fail"
            if failing
            else f"{len(weak)} of {len(checks)} matched metrics underpowered"
            if weak
            else f"all {len(checks)} matched metrics pass"
            if not missing
            else f"{len(checks)} matched metrics"
        )
        messages.append(head)
    shown = failing or [c for c in checks if c.problems] or weak or ranked[:1]
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
    if status == "underpowered":
        messages.append("underpowered counts as a failure; set 'underpowered: warn' to relax it")
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
        baseline=number(deciding.base.get("value")) if deciding and deciding.base else None,
        p_value=deciding.p_value if deciding else None,
        message="; ".join(messages),
        evidence=tuple(c.evidence() for c in checks),
        description=rule.description,
        regression=rule.regression.model_dump() if rule.regression else None,
        line=line,
        **_power_fields(deciding, rule),
    )


def _power_fields(deciding: _Check | None, rule: RuleSpec) -> dict[str, Any]:
    power = deciding.power if deciding else None
    return {
        "difference": deciding.test.difference if deciding and deciding.test else None,
        "mdr": power.mdr if power else None,
        "detect": rule.regression.detect if rule.regression else None,
        "outputs_needed": power.outputs_needed if power and power.underpowered else None,
        "underpowered": bool(deciding and deciding.underpowered),
    }


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
