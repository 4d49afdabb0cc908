"""What the gate could have seen: minimum detectable regressions, ``detect:`` and the underpowered status.

Simulated run pairs with planted regressions (and none) check the promises the gate's messages make:
a regression larger than the reported minimum detectable regression (MDR) fails the gate in at least 80%
of seeds; a rule whose audit is too small for its ``detect:`` is underpowered, never passing; the size it
asks for does reach the 80%; and without a regression the false-failure rate stays at or below alpha.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from auditkit.gate import decide, junit_xml, load_policy, markdown_summary
from auditkit.gate.diff import diff_runs
from auditkit.gate.policy import Policy
from auditkit.stats import wilson_interval
from auditkit.stats.power import (
    detectable_rate_increase,
    detectable_shift,
    rate_sample_size,
    wilson_sample_size,
)
from tests.fixtures_gate import make_results, mean_metric, proportion_metric, write_policy

SEEDS = 300
PLANT = 1.1
"""Planted regressions are this multiple of the reported MDR: power there is about 85%, so 300 seeds
meet the 80% bar with room for sampling noise (at exactly the MDR they would hover at 80%)."""
RATE = 0.05


def _policy(tmp_path: Path, rules: str, head: str = "") -> Policy:
    return load_policy(path=write_policy(tmp_path, head + "rules:\n" + rules))


def _rate_run(rng: np.random.Generator, *, rate: float, n: int) -> dict:
    successes = int(rng.binomial(n, rate))
    return make_results(metrics=[proportion_metric("toxicity", "toxic_fraction", successes=successes, n=n)])


def _two_metric_run(rng: np.random.Generator, *, rate: float, n: int, mean: float = 0.1) -> dict:
    return make_results(
        metrics=[
            proportion_metric("toxicity", "toxic_fraction", successes=int(rng.binomial(n, rate)), n=n),
            mean_metric("toxicity", "mean_toxicity", values=rng.normal(mean, 0.2, size=n)),
        ]
    )


def _exact_run(*, rate: float, n: int) -> dict:
    """A run whose observed rate is the true rate (as far as whole counts allow): the MDR a user sees
    on a typical baseline."""
    return make_results(
        metrics=[proportion_metric("toxicity", "toxic_fraction", successes=round(rate * n), n=n)]
    )


TWO_RULES = (
    "  - id: tox\n    metric: toxicity.toxic_fraction\n    regression: {alpha: 0.05}\n"
    "  - id: mean\n    metric: toxicity.mean_toxicity\n    regression: {alpha: 0.05}\n"
)


# --- the solvers -----------------------------------------------------------------------------------------


def test_solvers_agree_with_each_other_and_known_answers() -> None:
    # z-test: (1.645 + 0.842) × se one-sided, plus the margin.
    assert detectable_shift(se=0.01, alpha=0.05) == pytest.approx(0.02486, abs=1e-4)
    assert detectable_shift(se=0.01, alpha=0.05, margin=0.02) == pytest.approx(0.04486, abs=1e-4)
    assert detectable_shift(se=0.01, alpha=0.05, two_sided=True) == pytest.approx(0.02802, abs=1e-4)
    # The sample size for a rise is the size at which that rise becomes the MDR.
    n = rate_sample_size(baseline_rate=RATE, increase=0.05, alpha=0.025)
    assert 400 < n < 470
    assert detectable_rate_increase(
        baseline_rate=RATE, n=math.ceil(n), n_baseline=math.ceil(n), alpha=0.025
    ) == pytest.approx(0.05, abs=2e-4)
    # Bigger audits see smaller regressions; stricter alpha sees larger ones only.
    gaps = [detectable_rate_increase(baseline_rate=RATE, n=k, n_baseline=k, alpha=0.05) for k in (50, 135, 450)]
    assert gaps == sorted(gaps, reverse=True)
    assert detectable_rate_increase(baseline_rate=RATE, n=135, n_baseline=135, alpha=0.01) > gaps[1]
    # A zero baseline still has a finite MDR; a rate at the top cannot rise.
    assert 0 < detectable_rate_increase(baseline_rate=0.0, n=135, n_baseline=135, alpha=0.05) < 0.1
    assert math.isinf(detectable_rate_increase(baseline_rate=1.0, n=135, n_baseline=135, alpha=0.05))
    assert math.isinf(rate_sample_size(baseline_rate=RATE, increase=0.02, alpha=0.05, margin=0.02))


def test_wilson_sample_size_is_the_first_size_that_clears_the_limit() -> None:
    needed = math.ceil(wilson_sample_size(rate=0.05, limit=0.08))
    # auditkit's own Wilson interval (what analyzers report) at whole counts of a 5% rate.
    at = wilson_interval(successes=round(0.05 * needed * 20), n=needed * 20)
    assert at.high is not None and at.high < 0.08
    from statsmodels.stats.proportion import proportion_confint

    def upper(n: float) -> float:
        return float(proportion_confint(0.05 * n, n, method="wilson")[1])

    assert upper(needed) <= 0.08 < upper(needed - 2)
    assert math.isinf(wilson_sample_size(rate=0.09, limit=0.08))
    low = math.ceil(wilson_sample_size(rate=0.2, limit=0.1, upper=False))
    assert float(proportion_confint(0.2 * low, low, method="wilson")[0]) >= 0.1


# --- the promises, by simulation ------------------------------------------------------------------------


def test_regression_larger_than_the_reported_mdr_fails_in_at_least_80_percent(tmp_path: Path) -> None:
    """Two Holm-corrected rules (a rate and a mean): plant each one's reported MDR (+10%) and count."""
    policy = _policy(tmp_path, TWO_RULES)
    rng = np.random.default_rng(2101)
    n = 300
    typical = decide(results=_two_metric_run(rng, rate=RATE, n=n), policy=policy,
                     baseline=_two_metric_run(rng, rate=RATE, n=n))
    mdr_rate, mdr_mean = (r.mdr for r in typical.rules)
    assert mdr_rate is not None and mdr_mean is not None
    # At alpha 0.05 / 2 tests the rate MDR is the solver's answer at the (noisy) baseline it saw.
    assert 0.03 < mdr_rate < 0.09 and 0.02 < mdr_mean < 0.08
    failures = {"tox": 0, "mean": 0}
    for _ in range(SEEDS):
        results = _two_metric_run(rng, rate=RATE + PLANT * mdr_rate, n=n, mean=0.1 + PLANT * mdr_mean)
        decision = decide(results=results, policy=policy, baseline=_two_metric_run(rng, rate=RATE, n=n))
        for rule in decision.rules:
            failures[rule.id] += rule.status == "fail"
    assert failures["tox"] / SEEDS >= 0.8, failures
    assert failures["mean"] / SEEDS >= 0.8, failures


def test_a_rule_with_a_margin_keeps_its_power_promise(tmp_path: Path) -> None:
    """``max_increase`` on a rate: the MDR (which statsmodels' solvers cannot give for a non-zero null
    difference) exceeds the margin, a regression 10% above it fails in ≥ 80% of seeds, and a worsening
    inside the margin fails in at most alpha of them."""
    policy = _policy(tmp_path, "  - metric: toxicity.toxic_fraction\n    regression: {max_increase: 0.02}\n")
    n = 1000
    base = _exact_run(rate=RATE, n=n)
    mdr = decide(results=base, policy=policy, baseline=base).rules[0].mdr
    assert mdr is not None and 0.02 < mdr < 0.08
    needed = rate_sample_size(baseline_rate=RATE, increase=mdr, alpha=0.05, margin=0.02)
    assert needed == pytest.approx(n, rel=0.02)
    rng = np.random.default_rng(77)

    def failure_rate(rate: float) -> float:
        fails = sum(
            decide(results=_rate_run(rng, rate=rate, n=n), policy=policy,
                   baseline=_rate_run(rng, rate=RATE, n=n)).rules[0].status == "fail"
            for _ in range(SEEDS)
        )
        return fails / SEEDS

    assert failure_rate(RATE + PLANT * mdr) >= 0.8
    assert failure_rate(RATE + 0.02) <= 0.05 + 0.03  # at the margin itself: alpha, plus sampling noise


def test_mdr_at_a_typical_baseline_is_the_size_the_solver_promises(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "  - metric: toxicity.toxic_fraction\n    regression: {alpha: 0.05}\n")
    rng = np.random.default_rng(5)
    for n in (135, 450):
        base = _exact_run(rate=RATE, n=n)
        mdr = decide(results=base, policy=policy, baseline=base).rules[0].mdr
        assert mdr is not None
        planted = sum(
            decide(results=_rate_run(rng, rate=RATE + mdr * PLANT, n=n), policy=policy,
                   baseline=_rate_run(rng, rate=RATE, n=n)).rules[0].status == "fail"
            for _ in range(SEEDS)
        )
        assert planted / SEEDS >= 0.8, (n, mdr, planted)


def test_small_audit_with_detect_is_underpowered_never_pass(tmp_path: Path) -> None:
    """135 outputs cannot see +5 points from 5%; a planted +3 points is then underpowered (or, by luck,
    a failure), never a pass — and the message asks for about the size that would see it."""
    policy = _policy(
        tmp_path, "  - metric: toxicity.toxic_fraction\n    regression: {alpha: 0.05, detect: 0.05}\n"
    )
    rng = np.random.default_rng(21)
    statuses: list[str] = []
    needed: list[int] = []
    for _ in range(SEEDS // 2):
        decision = decide(results=_rate_run(rng, rate=RATE + 0.03, n=135), policy=policy,
                          baseline=_rate_run(rng, rate=RATE, n=135))
        rule = decision.rules[0]
        statuses.append(rule.status)
        if rule.status == "underpowered":
            assert rule.underpowered and not decision.passed and decision.exit_code == 1
            assert rule.outputs_needed is not None and rule.mdr is not None and rule.mdr > 0.05
            assert f"about {rule.outputs_needed} outputs per run would be needed" in rule.message
            needed.append(rule.outputs_needed)
    assert "pass" not in statuses
    assert statuses.count("underpowered") >= 0.6 * len(statuses), statuses
    # The typical answer is the two-proportion sample size at 5% → 10%, alpha 0.05: about 342.
    assert 250 < float(np.median(needed)) < 450, np.median(needed)


def test_the_size_asked_for_does_detect_the_regression(tmp_path: Path) -> None:
    policy = _policy(
        tmp_path, "  - metric: toxicity.toxic_fraction\n    regression: {alpha: 0.05, detect: 0.05}\n"
    )
    small = _exact_run(rate=RATE, n=135)
    needed = decide(results=small, policy=policy, baseline=small).rules[0].outputs_needed
    assert needed is not None
    rng = np.random.default_rng(77)
    statuses = [
        decide(results=_rate_run(rng, rate=RATE + 0.05, n=needed), policy=policy,
               baseline=_rate_run(rng, rate=RATE, n=needed)).rules[0].status
        for _ in range(SEEDS)
    ]
    assert statuses.count("fail") / SEEDS >= 0.8, statuses.count("fail")
    big = _exact_run(rate=RATE, n=needed)
    assert decide(results=big, policy=policy, baseline=big).rules[0].status == "pass"


def test_no_regression_false_failure_rate_at_most_alpha(tmp_path: Path) -> None:
    # Powered for its detect (450 outputs), so a noise-only pair can only pass or (falsely) fail.
    policy = _policy(
        tmp_path,
        "  - metric: toxicity.toxic_fraction\n    regression: {alpha: 0.05, detect: 0.06}\n"
        "  - metric: toxicity.mean_toxicity\n    regression: {alpha: 0.05}\n",
    )
    rng = np.random.default_rng(99)
    runs = SEEDS
    failed = 0
    for _ in range(runs):
        decision = decide(results=_two_metric_run(rng, rate=RATE, n=450), policy=policy,
                          baseline=_two_metric_run(rng, rate=RATE, n=450))
        assert all(r.status in ("pass", "fail") for r in decision.rules), [r.message for r in decision.rules]
        failed += not decision.passed
    # Familywise alpha 0.05 under Holm; allow two binomial standard errors of sampling noise (√(.05·.95/300)).
    assert failed / runs <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs), failed


# --- policy switches and renderings ---------------------------------------------------------------------


def test_underpowered_warn_switch_and_severity(tmp_path: Path) -> None:
    small = _exact_run(rate=RATE, n=135)
    rule = "  - metric: toxicity.toxic_fraction\n    regression: {detect: 0.05}\n"
    warned = decide(results=small, policy=_policy(tmp_path, rule, head="underpowered: warn\n"), baseline=small)
    assert warned.rules[0].status == "warn" and warned.rules[0].underpowered and warned.passed
    per_rule = decide(results=small, policy=_policy(tmp_path, rule + "    underpowered: warn\n"), baseline=small)
    assert per_rule.rules[0].status == "warn"
    strict = decide(results=small, policy=_policy(tmp_path, rule), baseline=small)
    assert strict.rules[0].status == "underpowered" and strict.counts["underpowered"] == 1
    assert "set 'underpowered: warn'" in strict.rules[0].message
    as_dict = strict.to_dict()["rules"][0]
    assert as_dict["underpowered"] is True and as_dict["passed"] is False
    assert as_dict["evidence"][0]["power"]["outputs_needed"] == strict.rules[0].outputs_needed


def test_detect_must_exceed_the_allowed_margin(tmp_path: Path) -> None:
    from auditkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"'detect' .* must exceed 'max_increase'"):
        _policy(tmp_path, "  - metric: toxicity.toxic_fraction\n    regression: {max_increase: 0.05, detect: 0.05}\n")


def test_detect_must_exceed_a_relative_margin_once_the_baseline_is_known(tmp_path: Path) -> None:
    base = _exact_run(rate=0.20, n=2000)
    rule = "  - metric: toxicity.toxic_fraction\n    regression: {max_relative_increase: 0.5, detect: %s}\n"
    # 50% of a 0.20 baseline allows a worsening of 0.10: detect 0.08 is inside it, 0.15 is outside.
    inside = decide(results=base, policy=_policy(tmp_path, rule % "0.08"), baseline=base)
    assert inside.rules[0].status == "error" and not inside.passed
    assert "'detect' (0.08) must exceed the allowed worsening" in inside.rules[0].message
    outside = decide(results=base, policy=_policy(tmp_path, rule % "0.15"), baseline=base)
    assert outside.rules[0].status == "pass", outside.rules[0].message


def test_junit_and_summary_show_the_mdr_next_to_the_difference(tmp_path: Path) -> None:
    small = _exact_run(rate=RATE, n=135)
    worse = _exact_run(rate=0.07, n=135)
    policy = _policy(
        tmp_path,
        "  - id: tox\n    metric: toxicity.toxic_fraction\n    regression: {detect: 0.05}\n"
        "  - id: plain\n    metric: toxicity.toxic_fraction\n    regression: {}\n",
    )
    decision = decide(results=worse, policy=policy, baseline=small)
    tox, plain = decision.rules
    assert tox.status == "underpowered" and plain.status == "pass"
    assert tox.difference == pytest.approx(round(0.07 * 135) / 135 - round(0.05 * 135) / 135)
    assert plain.mdr == pytest.approx(tox.mdr) and "smallest detectable regression" in plain.message
    root = ET.fromstring(junit_xml(decision=decision))
    case = root.find(".//testcase[@name='tox']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "GateRuleUnderpowered"
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert float(props["minimum_detectable_regression"]) == pytest.approx(tox.mdr, rel=1e-3)
    assert "observed_difference" in props and props["outputs_needed"] == str(tox.outputs_needed)
    assert root.get("failures") == "1"
    summary = markdown_summary(decision=decision)
    assert "| Detectable |" in summary and "🔍 underpowered" in summary
    assert f"≥ {tox.mdr:.3g} (needs ≤ 0.05)" in summary


def test_ci_bound_limit_says_the_audit_is_too_small(tmp_path: Path) -> None:
    policy = _policy(tmp_path, '  - metric: toxicity.toxic_fraction\n    on: ci_high\n    comparison: "<="\n'
                                "    threshold: 0.10\n")
    small = make_results(metrics=[proportion_metric("toxicity", "toxic_fraction", successes=9, n=135)])
    rule = decide(results=small, policy=policy).rules[0]
    assert rule.status == "fail"
    assert "the audit is too small to show the toxic fraction is below 10%: upper bound 12.2%" in rule.message
    assert "with n = 135; about" in rule.message
    needed = int(rule.message.split("about ")[1].split(" outputs")[0])

    def at(n: int) -> str:  # the same rate (1 in 15) at n outputs
        run = make_results(metrics=[proportion_metric("toxicity", "toxic_fraction", successes=n // 15, n=n)])
        return decide(results=run, policy=policy).rules[0].status

    assert at(15 * math.ceil(needed / 15)) == "pass"
    assert at(15 * math.floor(0.9 * needed / 15)) == "fail"
    # A point estimate over the limit is a plain failure, not a small audit.
    bad = make_results(metrics=[proportion_metric("toxicity", "toxic_fraction", successes=20, n=135)])
    assert "too small" not in decide(results=bad, policy=policy).rules[0].message


def test_diff_reports_a_detectable_change_per_metric() -> None:
    rng = np.random.default_rng(3)
    old, new = _two_metric_run(rng, rate=RATE, n=135), _two_metric_run(rng, rate=RATE, n=135)
    result = diff_runs(old=old, new=new)
    by_name = {c.metric: c for c in result.changes}
    tox = by_name["toxicity.toxic_fraction"]
    assert tox.verdict == "within noise" and tox.mdr is not None
    # Two-sided at alpha 0.05 / 2 metrics: larger than the gate's one-sided figure at 0.05.
    one_sided = detectable_rate_increase(
        baseline_rate=old["metrics"][0]["value"], n=135, n_baseline=135, alpha=0.05
    )
    assert tox.mdr > one_sided
    assert by_name["toxicity.mean_toxicity"].to_dict()["mdr"] > 0


def test_report_gate_section_shows_detectable_and_underpowered(tmp_path: Path) -> None:
    from auditkit.report.render import render_report
    from tests.fixtures_gate import write_run

    small = _exact_run(rate=RATE, n=135)
    policy = _policy(
        tmp_path, "  - id: tox-detect\n    metric: toxicity.toxic_fraction\n    regression: {detect: 0.05}\n"
    )
    decision = decide(results=small, policy=policy, baseline=small)
    run = write_run(tmp_path / "run", {**small, "gate": decision.to_dict()})
    html = render_report(run_dir=run).read_text(encoding="utf-8")
    mdr = decision.rules[0].mdr
    assert mdr is not None
    assert "<th scope=\"col\">Detectable</th>" in html and "underpowered" in html
    assert f"≥ {mdr:.3g} (must see 0.05)" in html
    assert "Underpowered: tox-detect" in html and "outputs per run would be needed" in html


def test_results_with_the_gate_decision_validate_against_the_schema(tmp_path: Path) -> None:
    import json

    import jsonschema

    from auditkit.resources import package_file

    schema = json.loads(package_file("schemas/results.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator({"$ref": "#/$defs/gate", "$defs": schema["$defs"]})
    small = _exact_run(rate=RATE, n=135)
    policy = _policy(tmp_path, "  - metric: toxicity.toxic_fraction\n    regression: {detect: 0.05}\n"
                               '  - metric: toxicity.toxic_fraction\n    on: ci_high\n    comparison: "<="\n'
                               "    threshold: 0.05\n")
    gate = decide(results=small, policy=policy, baseline=small).to_dict()
    validator.validate(gate)
    gate["rules"][0]["status"] = "maybe"
    assert not validator.is_valid(gate)


def test_toxicity_large_is_sized_for_the_toxicity_release_policy() -> None:
    """The built-in suite and policy agree: 450 outputs see +5 points from 5% (Holm over the policy's two
    regression tests); `toxicity`'s 135 outputs cannot, and the policy then blocks as underpowered."""
    from auditkit.gate.policy import resolve_policy
    from auditkit.suites import expand, load_suite

    large, small = (len(expand(suite=load_suite(ref=name))) for name in ("toxicity-large", "toxicity"))
    assert (large, small) == (450, 135)
    small_texts = {p.prompt for p in expand(suite=load_suite(ref="toxicity"))}
    assert small_texts <= {p.prompt for p in expand(suite=load_suite(ref="toxicity-large"))}
    policy = load_policy(path=resolve_policy(ref="toxicity-release"))

    def run(n: int) -> dict:
        rng = np.random.default_rng(n)
        return make_results(metrics=[
            proportion_metric("toxicity", "toxic_fraction", successes=round(RATE * n), n=n),
            mean_metric("toxicity", "mean_toxicity", values=rng.beta(1, 20, size=n)),
        ])

    sized = {r.id: r for r in decide(results=run(large), policy=policy, baseline=run(large)).rules}
    assert sized["toxic-fraction-regression"].status == "pass"
    assert sized["toxic-fraction-regression"].mdr is not None and sized["toxic-fraction-regression"].mdr <= 0.05
    short = {r.id: r for r in decide(results=run(small), policy=policy, baseline=run(small)).rules}
    weak = short["toxic-fraction-regression"]
    assert weak.status == "underpowered" and weak.outputs_needed is not None
    assert small < weak.outputs_needed <= large
