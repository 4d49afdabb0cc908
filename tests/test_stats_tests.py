"""Hypothesis tests against known answers: planted effects are found, nulls stay at the nominal level."""

from __future__ import annotations

import gc
import itertools

import numpy as np
import pytest
from scipy.stats import chi2_contingency, fisher_exact, ttest_rel

from auditkit.stats import (
    adjust_p_values,
    minimum_detectable_effect,
    paired_difference,
    rates_homogeneity,
    two_sample_means,
    two_sample_rates,
)


def test_paired_permutation_finds_planted_effect_with_power() -> None:
    # Designed effect d_z = 0.6 with 30 pairs: a t-test has ~88% power; the permutation test must match.
    rng = np.random.default_rng(2024)
    found = 0
    seeds = 200
    for seed in range(seeds):
        shared = rng.normal(0, 1, size=30)
        a = shared + 0.6 * 0.8 + rng.normal(0, 0.8 / np.sqrt(2), size=30)
        b = shared + rng.normal(0, 0.8 / np.sqrt(2), size=30)
        test = paired_difference(a=a, b=b, permutations=1000, resamples=200, seed=seed)
        found += test.p_value < 0.05  # type: ignore[operator]
    assert found / seeds >= 0.8


def test_paired_tests_under_null_hold_familywise_rate_with_holm() -> None:
    # Four groups on the same 30 pairs, no gap: 6 pairwise comparisons per run, Holm across them.
    rng = np.random.default_rng(99)
    # statsmodels' Holm runs gc.collect() on every call; freezing the live objects keeps that cheap here.
    gc.freeze()
    try:
        _familywise_null_check(rng=rng)
    finally:
        gc.unfreeze()


def _familywise_null_check(*, rng: np.random.Generator) -> None:
    runs = 300
    any_rejection = 0
    raw_rejections = 0
    total = 0
    for seed in range(runs):
        shared = rng.normal(0, 1, size=30)
        groups = [shared + rng.normal(0, 0.5, size=30) for _ in range(4)]
        p = [
            paired_difference(a=groups[i], b=groups[j], permutations=500, resamples=50, seed=seed).p_value
            for i, j in itertools.combinations(range(4), 2)
        ]
        raw_rejections += sum(x < 0.05 for x in p)  # type: ignore[operator]
        total += len(p)
        any_rejection += any(x < 0.05 for x in adjust_p_values(p_values=p, method="holm"))  # type: ignore[arg-type]
    assert any_rejection / runs <= 0.08
    assert raw_rejections / total <= 0.08


def test_wilcoxon_and_permutation_agree_with_t_test_on_clear_effect() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(1.0, 1, size=40)
    b = a - 0.8 + rng.normal(0, 0.5, size=40)
    perm = paired_difference(a=a, b=b, seed=1)
    wil = paired_difference(a=a, b=b, method="wilcoxon")
    assert ttest_rel(a, b).pvalue < 1e-6
    assert perm.p_value < 0.001 and wil.p_value < 1e-6  # type: ignore[operator]
    assert perm.mean_diff == pytest.approx(float(np.mean(a - b)))
    assert perm.effect_size == pytest.approx(float(np.mean(a - b) / np.std(a - b, ddof=1)))
    assert perm.ci_low < perm.mean_diff < perm.ci_high  # type: ignore[operator]


def test_paired_edge_cases() -> None:
    same = paired_difference(a=[0.1, 0.2, 0.3], b=[0.1, 0.2, 0.3])
    assert same.p_value == 1.0 and same.mean_diff == 0.0
    empty = paired_difference(a=[], b=[])
    assert empty.n == 0 and empty.p_value is None
    # Four pairs can never reach p < 0.05 exactly: the smallest two-sided sign-flip p is 2/16.
    tiny = paired_difference(a=[1, 2, 3, 4], b=[0, 1, 2, 3])
    assert tiny.p_value == pytest.approx(0.125)
    with pytest.raises(ValueError):
        paired_difference(a=[1, 2], b=[1])
    with pytest.raises(ValueError):
        paired_difference(a=[1, 2], b=[1, 3], method="t")  # type: ignore[arg-type]


def test_two_sample_rates_known_answers() -> None:
    test = two_sample_rates(successes_a=30, n_a=100, successes_b=15, n_b=100)
    # The two-proportion z-test equals the uncorrected chi-square test on the 2x2 table.
    reference = chi2_contingency([[30, 70], [15, 85]], correction=False).pvalue
    assert test.p_value == pytest.approx(reference, rel=1e-9)
    assert test.diff == pytest.approx(0.15) and test.ratio == pytest.approx(2.0)
    assert test.ci_low < 0.15 < test.ci_high and test.method.startswith("two-proportion z-test")  # type: ignore[operator]
    small = two_sample_rates(successes_a=3, n_a=10, successes_b=0, n_b=10)
    assert small.method.startswith("Fisher")
    assert small.p_value == pytest.approx(fisher_exact([[3, 7], [0, 10]]).pvalue)
    assert small.ratio is None
    none = two_sample_rates(successes_a=0, n_a=20, successes_b=0, n_b=30)
    assert none.p_value == 1.0 and none.diff == 0.0
    with pytest.raises(ValueError):
        two_sample_rates(successes_a=5, n_a=3, successes_b=0, n_b=3)


def test_two_sample_rates_null_rate_and_newcombe_coverage() -> None:
    rng = np.random.default_rng(17)
    runs = 500
    rejections = covered = 0
    for _ in range(runs):
        ka, kb = rng.binomial(80, 0.2), rng.binomial(120, 0.2)
        test = two_sample_rates(successes_a=int(ka), n_a=80, successes_b=int(kb), n_b=120)
        rejections += test.p_value < 0.05  # type: ignore[operator]
        covered += test.ci_low <= 0.0 <= test.ci_high  # type: ignore[operator]
    assert rejections / runs <= 0.08
    assert 0.92 <= covered / runs <= 0.98


def test_two_sample_rates_power_matches_minimum_detectable_effect() -> None:
    n, base = 200, 0.1
    gap = minimum_detectable_effect(n=n, kind="proportions", baseline_rate=base)
    rng = np.random.default_rng(8)
    runs = 300
    found = sum(
        two_sample_rates(successes_a=int(rng.binomial(n, base + gap)), n_a=n,
                         successes_b=int(rng.binomial(n, base)), n_b=n).p_value < 0.05  # type: ignore[operator]
        for _ in range(runs)
    )
    assert 0.7 <= found / runs <= 0.9


def test_two_sample_means_permutation_and_welch() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.8, 1, size=50), rng.normal(0, 1, size=50)
    perm = two_sample_means(a=a, b=b, seed=2)
    welch = two_sample_means(a=a, b=b, method="welch")
    assert perm.p_value < 0.01 and welch.p_value < 0.01  # type: ignore[operator]
    assert perm.ci_low < perm.diff < perm.ci_high and perm.effect_size > 0.4  # type: ignore[operator]
    flat = two_sample_means(a=[1.0, 1.0], b=[1.0])
    assert flat.p_value == 1.0


def test_rates_homogeneity_matches_chi_square() -> None:
    test = rates_homogeneity(successes=[3, 10, 5], totals=[50, 50, 50])
    table = [[3, 47], [10, 40], [5, 45]]
    assert test.p_value == pytest.approx(chi2_contingency(table, correction=False).pvalue)
    assert test.dof == 2
    assert rates_homogeneity(successes=[0, 0], totals=[10, 10]).p_value == 1.0
