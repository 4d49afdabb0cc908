"""Interval coverage and edge cases: the 95% intervals must cover the truth about 95% of the time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from auditkit.stats import (
    bootstrap_difference_interval,
    bootstrap_mean_interval,
    mean_interval,
    paired_difference,
    wilson_interval,
)


@pytest.mark.parametrize(("n", "p"), [(40, 0.3), (100, 0.1), (200, 0.5)])
def test_wilson_exact_coverage_is_near_nominal(n: int, p: float) -> None:
    # Exact coverage: sum the binomial probability of every count whose interval contains p.
    coverage = sum(
        binom.pmf(k, n, p)
        for k in range(n + 1)
        if (iv := wilson_interval(successes=k, n=n)).low <= p <= iv.high  # type: ignore[operator]
    )
    assert 0.92 <= coverage <= 0.98


def test_wilson_known_value_and_edges() -> None:
    iv = wilson_interval(successes=0, n=20)
    assert iv.value == 0.0 and iv.low == pytest.approx(0.0, abs=1e-12) and 0.15 < iv.high < 0.17
    assert wilson_interval(successes=0, n=0).value is None
    with pytest.raises(ValueError):
        wilson_interval(successes=5, n=3)


def test_bootstrap_mean_coverage() -> None:
    rng = np.random.default_rng(7)
    hits = 0
    seeds = 400
    for seed in range(seeds):
        data = rng.normal(0.2, 0.5, size=40)
        iv = bootstrap_mean_interval(values=data, resamples=1000, seed=seed)
        hits += iv.low <= 0.2 <= iv.high  # type: ignore[operator]
    assert 0.92 <= hits / seeds <= 0.98


def test_paired_difference_interval_coverage() -> None:
    rng = np.random.default_rng(11)
    hits = 0
    seeds = 300
    for seed in range(seeds):
        shared = rng.normal(0, 1, size=40)  # the pair's common part: pairing must remove it
        a = shared + 0.25 + rng.normal(0, 0.6, size=40)
        b = shared + rng.normal(0, 0.6, size=40)
        test = paired_difference(a=a, b=b, permutations=200, resamples=1000, seed=seed)
        hits += test.ci_low <= 0.25 <= test.ci_high  # type: ignore[operator]
    assert 0.92 <= hits / seeds <= 0.98


def test_bootstrap_difference_interval_coverage() -> None:
    rng = np.random.default_rng(3)
    hits = 0
    seeds = 300
    for seed in range(seeds):
        a = rng.normal(0.5, 1, size=50)
        b = rng.normal(0.0, 1, size=60)
        iv = bootstrap_difference_interval(a=a, b=b, resamples=1000, seed=seed)
        hits += iv.low <= 0.5 <= iv.high  # type: ignore[operator]
    assert 0.92 <= hits / seeds <= 0.98


def test_intervals_are_deterministic_and_handle_degenerate_data() -> None:
    data = [0.1, 0.5, 0.3, 0.9, 0.2]
    assert bootstrap_mean_interval(values=data, seed=4) == bootstrap_mean_interval(values=data, seed=4)
    flat = bootstrap_mean_interval(values=[0.3, 0.3, 0.3])
    assert (flat.value, flat.low, flat.high) == (0.3, 0.3, 0.3)
    assert bootstrap_mean_interval(values=[]).value is None
    assert mean_interval(values=[]).value is None
    iv = mean_interval(values=[1.0, 2.0, 3.0])
    assert iv.low < 2.0 < iv.high and math.isclose(iv.value, 2.0)  # type: ignore[operator]
    assert bootstrap_difference_interval(a=[], b=[1.0]).value is None


def test_wilson_bounds_are_exact_at_the_edges() -> None:
    from auditkit.stats import wilson_interval

    none = wilson_interval(successes=0, n=28)
    every = wilson_interval(successes=28, n=28)
    assert none.low == 0.0 and 0.0 < none.high < 0.2
    assert every.high == 1.0 and 0.8 < every.low < 1.0
