"""The energy intervals: a ratio of sums with a paired bootstrap over prompts, fast at 100,000 outputs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from auditkit.analyzers.energy_stats import bootstrap_mean, bootstrap_ratio
from auditkit.stats import intervals


def _replayed(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Replayed figures repeat: energy is proportional to a few dozen distinct token counts."""
    tokens = np.random.default_rng(seed).integers(20, 50, n).astype(float)
    return tokens * 0.05, tokens


def test_repeated_figures_give_the_index_bootstrap_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    joules, tokens = _replayed(20_000, seed=1)
    noisy = joules * np.random.default_rng(3).choice([0.9, 1.0, 1.2], joules.size)  # still few distinct
    fast_mean = bootstrap_mean(list(joules), seed=0)
    fast_ratio = bootstrap_ratio(noisy, tokens, scale=1000 / 3600, seed=0)
    monkeypatch.setattr(intervals, "COMPRESS_RATIO", 10**9)  # draw every prompt by index instead
    slow_mean = bootstrap_mean(list(joules), seed=0)
    slow_ratio = bootstrap_ratio(noisy, tokens, scale=1000 / 3600, seed=0)
    for fast, slow in ((fast_mean, slow_mean), (fast_ratio, slow_ratio)):
        assert fast[0] == slow[0]
        width = slow[2] - slow[1]  # type: ignore[operator]
        assert width > 0
        # Independent 2,000-resample percentile bounds: within 10% of the interval's width of each other.
        assert abs(fast[1] - slow[1]) <= 0.1 * width  # type: ignore[operator]
        assert abs(fast[2] - slow[2]) <= 0.1 * width  # type: ignore[operator]
        assert fast[1] < fast[0] < fast[2]  # type: ignore[operator]


def test_hundred_thousand_outputs_take_well_under_a_second() -> None:
    joules, tokens = _replayed(100_000, seed=2)
    start = time.process_time()
    value, low, high = bootstrap_ratio(tokens, tokens / 100 + 0.01, scale=1.0, seed=0)
    bootstrap_mean(list(joules), seed=0)
    assert time.process_time() - start < 2.0
    assert low is not None and high is not None and low <= value <= high  # type: ignore[operator]
