"""Rule evaluation on simulated results: pass, fail, warn-only, missing, n/a, group filters, CI bounds."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from auditkit.errors import ConfigError
from auditkit.gate import GateDecision, evaluate_policy
from tests.fixtures_gate import IDENTITIES, simulate_run, write_policy, write_run


def _rule(metric: str, comparison: str | None = None, threshold: float | None = None, **extra: object) -> str:
    lines = [f"  - metric: '{metric}'"]
    if comparison is not None:
        lines += [f"    comparison: '{comparison}'", f"    threshold: {threshold}"]
    lines += [f"    {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def _decide(tmp_path: Path, *rules: str, results: dict | None = None, **kw: object) -> GateDecision:
    policy = write_policy(tmp_path, "name: t\nrules:\n" + "".join(rules))
    return evaluate_policy(
        results=results if results is not None else simulate_run(), policy_path=policy, **kw
    )


def test_all_rules_pass(tmp_path: Path) -> None:
    decision = _decide(
        tmp_path,
        _rule("toxicity.toxic_fraction", "<=", 0.05, on="ci_high"),
        _rule("memorization.extractable_rate", "<=", 0.0),
    )
    assert decision.passed and decision.exit_code == 0
    assert [r.status for r in decision.rules] == ["pass", "pass"]
    data = decision.to_dict()
    assert data["passed"] is True and data["exit_code"] == 0 and data["policy"].endswith("policy.yaml")
    keys = {
        "id",
        "metric",
        "selector",
        "comparison",
        "threshold",
        "on",
        "severity",
        "status",
        "observed",
        "baseline",
        "p_value",
        "message",
        "evidence",
    }
    assert keys <= set(data["rules"][0])
    assert data["rules"][0]["on"] == "ci_high" and data["rules"][0]["observed"] == pytest.approx(
        simulate_run()["metrics"][0]["ci_high"]
    )


def test_failing_rule_fails_with_evidence(tmp_path: Path) -> None:
    results = simulate_run(toxic_rate=0.12)
    decision = _decide(tmp_path, _rule("toxicity.toxic_fraction", "<=", 0.05, id="tox"), results=results)
    rule = decision.rules[0]
    assert not decision.passed and decision.exit_code == 1 and rule.status == "fail"
    assert "toxicity.toxic_fraction value = " in rule.message and "(required <= 0.05)" in rule.message
    assert rule.evidence[0]["n"] == 500 and rule.evidence[0]["passed"] is False
    assert rule.observed == pytest.approx(results["metrics"][0]["value"])


def test_warn_only_exits_zero_with_warnings_listed(tmp_path: Path) -> None:
    decision = _decide(
        tmp_path,
        _rule("toxicity.toxic_fraction", "<=", 0.01, severity="warn"),
        _rule("memorization.extractable_rate", "<=", 0.0),
        results=simulate_run(toxic_rate=0.10),
    )
    assert decision.passed and decision.exit_code == 0
    assert [r.status for r in decision.rules] == ["warn", "pass"]
    assert decision.counts["warn"] == 1


def test_ci_bound_rule_is_stricter_than_point_estimate(tmp_path: Path) -> None:
    # 20 of 500 toxic: value 0.04 is under 0.05 but the Wilson upper bound (~0.061) is not.
    results = simulate_run()
    results["metrics"][0].update(value=0.04, ci_low=0.026, ci_high=0.061)
    lenient = _decide(tmp_path, _rule("toxicity.toxic_fraction", "<=", 0.05), results=results)
    strict = _decide(tmp_path, _rule("toxicity.toxic_fraction", "<=", 0.05, on="upper"), results=results)
    assert lenient.rules[0].status == "pass" and strict.rules[0].status == "fail"
    assert strict.rules[0].on == "ci_high" and strict.rules[0].observed == 0.061
    low = _decide(tmp_path, _rule("toxicity.toxic_fraction", ">", 0.03, on="lower"), results=results)
    assert low.rules[0].status == "fail" and low.rules[0].observed == 0.026


def test_misspelled_metric_is_a_config_error_not_a_failed_gate(tmp_path: Path) -> None:
    """Issue 20: exit 1 blames the model; a typo in the policy is exit 2 with a did-you-mean."""
    with pytest.raises(ConfigError, match=r"policy.yaml:\d+: no metric toxicity.toxic_fractoin exists "
                       r"\(did you mean toxicity.toxic_fraction\?\)") as info:
        _decide(tmp_path, _rule("toxicity.toxic_fractoin", "<=", 0.05))
    assert info.value.exit_code == 2
    with pytest.raises(ConfigError, match=r"there is no 'toxicty' \(did you mean 'toxicity'\?\)"):
        _decide(tmp_path, _rule("toxicty.toxic_fraction", "<=", 0.05))


def test_metric_of_a_registered_analyzer_that_did_not_run_is_missing_not_a_typo(tmp_path: Path) -> None:
    results = simulate_run()
    results["metrics"] = [m for m in results["metrics"] if m["analyzer"] != "bias"]
    results.get("analyses", {}).pop("bias", None)
    decision = _decide(tmp_path, _rule("bias.max_gap", "<=", 0.1), results=results)
    rule = decision.rules[0]
    assert rule.status == "error" and not decision.passed and decision.exit_code == 1
    assert "analyzer 'bias' did not run" in rule.message


@pytest.mark.parametrize(
    ("missing", "status", "passed"),
    [("warn", "warn", True), ("skip", "skipped", True), ("fail", "error", False)],
)
def test_missing_policy_per_rule(tmp_path: Path, missing: str, status: str, passed: bool) -> None:
    decision = _decide(tmp_path, _rule("energy.j_per_prompt", "<=", 1, missing=missing))
    assert decision.rules[0].status == status and decision.passed is passed


def test_na_metric_is_treated_as_missing(tmp_path: Path) -> None:
    results = simulate_run(wh_per_1k=None)
    decision = _decide(tmp_path, _rule("energy.wh_per_1k_tokens", "<=", 1.0), results=results)
    rule = decision.rules[0]
    assert rule.status == "error" and "n/a" in rule.message and "not measured" in rule.message
    relaxed = _decide(tmp_path, _rule("energy.wh_per_1k_tokens", "<=", 1.0, missing="skip"), results=results)
    assert relaxed.rules[0].status == "skipped" and relaxed.passed
    # A metric with a value but no interval: a CI-bound rule cannot read it.
    results["metrics"][0].update(ci_high=None)
    no_ci = _decide(tmp_path, _rule("toxicity.toxic_fraction", "<=", 1.0, on="ci_high"), results=results)
    assert no_ci.rules[0].status == "error" and "ci_high is n/a" in no_ci.rules[0].message


def test_group_filtered_selector_and_multi_match(tmp_path: Path) -> None:
    results = simulate_run()
    gaps = {m["group"]["axis"]: m for m in results["metrics"] if m["name"] == "max_gap"}
    gaps["gender"]["value"], gaps["religion"]["value"] = 0.25, 0.02
    only_religion = _decide(tmp_path, _rule("bias.max_gap{axis=religion}", "<=", 0.1), results=results)
    assert only_religion.rules[0].status == "pass" and len(only_religion.rules[0].evidence) == 1
    every_axis = _decide(tmp_path, _rule("bias.max_gap", "<=", 0.1), results=results)
    rule = every_axis.rules[0]
    assert rule.status == "fail" and len(rule.evidence) == 2
    assert "1 of 2 matched metrics fail" in rule.message and "bias.max_gap{axis=gender}" in rule.message
    assert "axis=religion" not in rule.message and rule.observed == 0.25
    no_group = _decide(tmp_path, _rule("bias.max_gap{axis=age}", "<=", 0.1), results=results)
    assert no_group.rules[0].status == "error" and "axis=gender" in no_group.rules[0].message


def test_regression_rule_without_baseline_is_skipped(tmp_path: Path) -> None:
    decision = _decide(
        tmp_path,
        _rule("toxicity.toxic_fraction", regression="{max_increase: 0.0}"),
        _rule("toxicity.toxic_fraction", "<=", 0.5, id="both", regression="{max_increase: 0.0}"),
    )
    assert [r.status for r in decision.rules] == ["skipped", "pass"]
    assert "no --baseline" in decision.rules[1].message and decision.passed
    assert decision.notes and "baseline" in decision.notes[0]


def test_incomplete_run_cannot_pass(tmp_path: Path) -> None:
    decision = _decide(
        tmp_path, _rule("toxicity.toxic_fraction", "<=", 0.5), results=simulate_run(status="incomplete")
    )
    assert not decision.passed and decision.rules[-1].id == "run-complete"


def test_incompatible_baseline_suite_hash(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="suites differ") as info:
        _decide(
            tmp_path,
            _rule("toxicity.toxic_fraction", regression="{}"),
            baseline=simulate_run(suite_hash="sha256:other"),
        )
    assert info.value.exit_code == 2 and "standard" in str(info.value)


def test_incompatible_baseline_scorer(tmp_path: Path) -> None:
    identities = copy.deepcopy(IDENTITIES)
    identities["toxicity"]["weights_hash"] = "sha256:bbbb"
    with pytest.raises(ConfigError, match="different scorers") as info:
        _decide(
            tmp_path,
            _rule("toxicity.toxic_fraction", regression="{}"),
            baseline=simulate_run(identities=identities),
        )
    assert "weights_hash" in str(info.value) and "toxicity" in str(info.value)
    # A scorer the policy never reads does not block the comparison.
    identities = copy.deepcopy(IDENTITIES)
    identities["energy"]["version"] = "2"
    decision = _decide(
        tmp_path,
        _rule("toxicity.toxic_fraction", regression="{}"),
        baseline=simulate_run(seed=1, identities=identities),
    )
    assert decision.rules[0].status in ("pass", "fail")


def test_engine_call_shape_with_baseline_dir(tmp_path: Path) -> None:
    """auditkit.api calls evaluate_policy(results=, policy_path=, baseline_dir=) and dict()s it."""
    base = write_run(tmp_path / "base", simulate_run(seed=3))
    policy = write_policy(tmp_path, "rules:\n" + _rule("toxicity.toxic_fraction", regression="{}"))
    decision = dict(evaluate_policy(results=simulate_run(seed=4), policy_path=policy, baseline_dir=base))
    assert isinstance(decision["passed"], bool) and decision["baseline"]["run"] == str(base)
    assert decision["rules"][0]["baseline"] is not None and decision["rules"][0]["p_value"] is not None
    with pytest.raises(ConfigError, match="once"):
        evaluate_policy(results={}, policy_path=policy, baseline={}, baseline_dir=base)
