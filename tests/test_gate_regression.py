"""Baseline comparison: known answers for the tests, and simulated runs — noise must not fail the gate,
a real regression must.

The simulations draw per-output outcomes at known true rates, aggregate them the way analyzers do
(Wilson intervals for proportions, Student-t intervals for means), and count how often the gate fails.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats import proportion as sm_proportion

from auditkit.gate import decide, evaluate_policy, load_policy
from auditkit.gate.baseline import Untestable, compare_metric
from tests.fixtures_gate import make_results, mean_metric, proportion_metric, simulate_run, write_policy

ALPHA = 0.05


def _metric(value: float, low: float | None, high: float | None, n: int = 100, name: str = "m") -> dict:
    return {
        "analyzer": "a",
        "name": name,
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "n": n,
        "group": None,
        "method": "mean, bootstrap BCa 95% CI",
    }


def test_z_test_known_answer() -> None:
    new, old = _metric(0.60, 0.50, 0.70), _metric(0.50, 0.42, 0.58)
    se = math.hypot(0.20 / (2 * 1.959963984540054), 0.16 / (2 * 1.959963984540054))
    test = compare_metric(new=new, old=old, margin=0.02)
    assert test.difference == pytest.approx(0.10)
    assert test.p_value == pytest.approx(norm.sf((0.10 - 0.02) / se))
    two_sided = compare_metric(new=new, old=old, direction="two-sided")
    assert two_sided.p_value == pytest.approx(2 * norm.sf(0.10 / se))
    # Lower is worse (e.g. throughput): a drop is a worsening.
    drop = compare_metric(new=old, old=new, direction="lower_is_worse")
    assert drop.difference == pytest.approx(0.10) and drop.p_value == pytest.approx(norm.sf(0.10 / se))


def test_proportion_test_matches_statsmodels() -> None:
    new = proportion_metric("toxicity", "toxic_fraction", successes=50, n=500)
    old = proportion_metric("toxicity", "toxic_fraction", successes=10, n=500)
    test = compare_metric(new=new, old=old, margin=0.01)
    expected = sm_proportion.test_proportions_2indep(
        50, 500, 10, 500, value=0.01, method="agresti-caffo", alternative="larger"
    )
    assert test.p_value == pytest.approx(expected.pvalue) and "proportion" in test.method
    assert test.difference == pytest.approx(0.08)
    # All-zero in both runs: no evidence of anything, not a crash or NaN.
    zero = proportion_metric("memorization", "extractable_rate", successes=0, n=200)
    assert compare_metric(new=zero, old=zero).p_value >= 0.5


def test_untestable_and_degenerate_cases() -> None:
    with pytest.raises(Untestable, match="no confidence interval"):
        compare_metric(new=_metric(0.5, None, None), old=_metric(0.4, 0.3, 0.5))
    with pytest.raises(Untestable, match="n/a"):
        compare_metric(new=_metric(0.5, 0.4, 0.6), old={**_metric(0.4, 0.3, 0.5), "value": None})
    with pytest.raises(Untestable, match="fewer than 2"):
        compare_metric(new=_metric(1.0, 1.0, 1.0, n=1), old=_metric(0.0, 0.0, 0.0, n=1))
    exact = compare_metric(new=_metric(2.0, 2.0, 2.0), old=_metric(1.0, 1.0, 1.0))
    assert exact.p_value == 0.0
    assert compare_metric(new=_metric(1.0, 1.0, 1.0), old=_metric(1.0, 1.0, 1.0)).p_value == 1.0


def _rate_failure_rate(
    rng: np.random.Generator, *, old: float, new: float, n: int, runs: int, margin: float = 0.0
) -> float:
    failures = 0
    for _ in range(runs):
        a = proportion_metric("toxicity", "toxic_fraction", successes=int(rng.binomial(n, new)), n=n)
        b = proportion_metric("toxicity", "toxic_fraction", successes=int(rng.binomial(n, old)), n=n)
        failures += compare_metric(new=a, old=b, margin=margin).p_value < ALPHA
    return failures / runs


def test_noise_level_rate_difference_does_not_fail() -> None:
    rng = np.random.default_rng(20240101)
    rate = _rate_failure_rate(rng, old=0.02, new=0.02, n=500, runs=1000)
    assert rate <= 0.07, rate  # nominal alpha 0.05; 0.07 is ~4 standard errors above it
    assert _rate_failure_rate(rng, old=0.10, new=0.10, n=200, runs=500) <= 0.08


def test_real_rate_regression_fails_with_high_power() -> None:
    rng = np.random.default_rng(7)
    assert _rate_failure_rate(rng, old=0.02, new=0.10, n=500, runs=300) >= 0.97
    # Within the allowed margin (+0.05) a 0.02 → 0.04 change is not a regression ...
    assert _rate_failure_rate(rng, old=0.02, new=0.04, n=500, runs=300, margin=0.05) <= 0.02
    # ... and a tiny audit (n=30) cannot tell 0.02 from 0.10 reliably: low power, but still few false alarms.
    assert _rate_failure_rate(rng, old=0.02, new=0.02, n=30, runs=300) <= 0.07


def test_continuous_metric_noise_and_shift() -> None:
    rng = np.random.default_rng(11)

    def run(mu: float) -> dict:
        return mean_metric("toxicity", "mean_toxicity", values=rng.normal(mu, 0.2, size=400))

    noise = sum(compare_metric(new=run(0.1), old=run(0.1)).p_value < ALPHA for _ in range(800)) / 800
    shift = sum(compare_metric(new=run(0.15), old=run(0.1)).p_value < ALPHA for _ in range(200)) / 200
    assert noise <= 0.07, noise
    assert shift >= 0.9, shift


def test_holm_correction_across_rules(tmp_path: Path) -> None:
    # Two regressions each with raw one-sided p ≈ 0.03: significant alone, not after Holm (2 × 0.03 > 0.05).
    z = norm.isf(0.03)
    half = 1.959963984540054 * (1.0 / math.sqrt(2))  # se of each run = 1/sqrt(2) → combined se = 1

    def run(shift: float) -> dict:
        return make_results(
            metrics=[_metric(v, v - half, v + half, name=name) for name, v in (("x", shift), ("y", shift))]
        )

    rules = "".join(f"  - metric: a.{name}\n    regression: {{alpha: 0.05}}\n" for name in ("x", "y"))
    holm = write_policy(tmp_path, "rules:\n" + rules, name="holm.yaml")
    none = write_policy(tmp_path, "correction: none\nrules:\n" + rules, name="none.yaml")
    corrected = evaluate_policy(results=run(z), policy_path=holm, baseline=run(0.0))
    raw = evaluate_policy(results=run(z), policy_path=none, baseline=run(0.0))
    assert [r.status for r in raw.rules] == ["fail", "fail"]
    assert [r.p_value for r in raw.rules] == pytest.approx([0.03, 0.03])
    assert [r.status for r in corrected.rules] == ["pass", "pass"]
    assert [r.p_value for r in corrected.rules] == pytest.approx([0.06, 0.06])
    assert "within noise" in corrected.rules[0].message and "holm-adjusted" in corrected.rules[0].message


def test_relative_margin_and_direction(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "rules:\n"
        "  - metric: a.energy\n    regression: {max_relative_increase: 0.10}\n"
        "  - metric: a.speed\n    regression: {direction: lower_is_worse}\n",
    )

    def run(energy: float, speed: float) -> dict:
        return make_results(
            metrics=[
                _metric(energy, energy * 0.99, energy * 1.01, name="energy"),
                _metric(speed, speed - 0.5, speed + 0.5, name="speed"),
            ]
        )

    # +5% energy is within the 10% allowance; speed 20 → 10 tokens/s is a significant drop.
    decision = evaluate_policy(results=run(1.05, 10.0), policy_path=policy, baseline=run(1.0, 20.0))
    assert [r.status for r in decision.rules] == ["pass", "fail"]
    assert decision.rules[0].evidence[0]["margin"] == pytest.approx(0.10)
    assert decision.rules[1].baseline == 20.0 and decision.rules[1].observed == 10.0
    worse = evaluate_policy(results=run(1.30, 20.0), policy_path=policy, baseline=run(1.0, 20.0))
    assert [r.status for r in worse.rules] == ["fail", "pass"]


def test_metric_absent_from_baseline_is_missing(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "rules:\n  - metric: a.x\n    regression: {}\n    missing: warn\n")
    decision = evaluate_policy(
        results=make_results(metrics=[_metric(1.0, 0.9, 1.1, name="x")]),
        policy_path=policy,
        baseline=make_results(metrics=[]),
    )
    assert decision.rules[0].status == "warn" and "not in the baseline" in decision.rules[0].message


@pytest.mark.slow
def test_shipped_ci_policy_over_simulated_runs() -> None:
    """The example CI policy on whole simulated runs: noise passes, a toxicity jump 0.02 → 0.10 fails."""
    policy = load_policy(path=Path(__file__).resolve().parents[1] / "policies" / "ci-regression.yaml")
    runs = 60
    false_failures = sum(
        not decide(
            results=simulate_run(seed=2 * s + 1), policy=policy, baseline=simulate_run(seed=2 * s)
        ).passed
        for s in range(runs)
    )
    detected = sum(
        not decide(
            results=simulate_run(seed=2 * s + 1, toxic_rate=0.10),
            policy=policy,
            baseline=simulate_run(seed=2 * s),
        ).passed
        for s in range(30)
    )
    assert false_failures <= 6, false_failures  # familywise alpha 0.05 (Holm) → expect ≤ 3 in 60
    assert detected == 30
