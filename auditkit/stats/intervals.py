"""Confidence intervals: proportions (Wilson), means (bootstrap BCa, Student-t), paired differences.

The formulas come from scipy and statsmodels; this module only chooses methods, guards edge cases (empty
data, all-equal values) and names the method so results say how each number was obtained.

Bootstrap size rule: BCa's acceleration comes from a jackknife that scipy evaluates on an n × (n − 1)
array — O(n²) time and memory (8,000 values: 13 s and 1.3 GB). Up to ``BCA_MAX_N`` values it is cheap
and BCa is used; above it the percentile bootstrap is used (resampled in bounded batches), which is
where the two agree: BCa's corrections shrink as 1/√n. The returned ``method`` names which one ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "BCA_MAX_N",
    "Interval",
    "bootstrap_batch",
    "bootstrap_difference_interval",
    "bootstrap_kind",
    "bootstrap_mean_interval",
    "mean_interval",
    "wilson_interval",
]


BCA_MAX_N = 2000
"""Largest sample (total values) bootstrapped with BCa; larger ones use the percentile bootstrap."""
_MAX_BATCH_CELLS = 4_000_000
"""Bound on resampled values held at once (~32 MB of float64), whatever the sample size."""


def bootstrap_kind(*, n: int) -> str:
    """``"BCa"`` for samples up to ``BCA_MAX_N`` values, else ``"percentile"`` (see the module docstring)."""
    return "BCa" if n <= BCA_MAX_N else "percentile"


def bootstrap_batch(*, n: int) -> int:
    """Resamples per scipy ``batch`` so one batch holds at most ``_MAX_BATCH_CELLS`` values."""
    return max(1, _MAX_BATCH_CELLS // max(1, n))


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with its two-sided interval and how it was computed."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str


def wilson_interval(*, successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Proportion ``successes / n`` with a Wilson score interval (good coverage even near 0 and 1)."""
    from statsmodels.stats.proportion import proportion_confint

    method = f"proportion, Wilson {confidence:.0%} CI"
    if n <= 0:
        return Interval(value=None, low=None, high=None, n=0, method=method)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie in [0, n={n}]")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    # The Wilson bound is exactly 0 (or 1) when no (or every) trial succeeds; statsmodels leaves float
    # dust such as 1e-17 there, which a report would print as a positive lower bound.
    low = 0.0 if successes == 0 else float(low)
    high = 1.0 if successes == n else float(high)
    return Interval(value=successes / n, low=low, high=high, n=n, method=method)


def bootstrap_mean_interval(
    *,
    values: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Mean with a bootstrap interval (scipy; BCa up to ``BCA_MAX_N`` values, percentile above), seeded."""
    from scipy.stats import bootstrap

    data = np.asarray(values, dtype=float)
    kind = bootstrap_kind(n=int(data.size))
    method = f"mean, bootstrap {kind} {confidence:.0%} CI ({resamples} resamples)"
    if data.size == 0:
        return Interval(value=None, low=None, high=None, n=0, method=method)
    mean = float(data.mean())
    if data.size == 1 or np.ptp(data) == 0:
        # No spread to resample: the interval collapses onto the value (BCa is undefined here).
        return Interval(value=mean, low=mean, high=mean, n=int(data.size), method=method)
    result = bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method=kind,
        rng=np.random.default_rng(seed),
        vectorized=True,
        batch=bootstrap_batch(n=int(data.size)),
    )
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        result = bootstrap(
            (data,), np.mean, confidence_level=confidence, n_resamples=resamples,
            method="percentile", rng=np.random.default_rng(seed), vectorized=True,
            batch=bootstrap_batch(n=int(data.size)),
        )
        low, high = result.confidence_interval
        method = f"mean, bootstrap percentile {confidence:.0%} CI ({resamples} resamples)"
    return Interval(value=mean, low=float(low), high=float(high), n=int(data.size), method=method)


def mean_interval(*, values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Mean with a Student-t interval: fast, for large samples of well-behaved measures (energy, latency)."""
    from scipy import stats

    data = np.asarray(values, dtype=float)
    method = f"mean, Student-t {confidence:.0%} CI"
    if data.size == 0:
        return Interval(value=None, low=None, high=None, n=0, method=method)
    mean = float(data.mean())
    if data.size == 1 or np.ptp(data) == 0:
        return Interval(value=mean, low=mean, high=mean, n=int(data.size), method=method)
    low, high = stats.t.interval(confidence, data.size - 1, loc=mean, scale=stats.sem(data))
    return Interval(value=mean, low=float(low), high=float(high), n=int(data.size), method=method)


def bootstrap_difference_interval(
    *,
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Difference of means ``mean(a) - mean(b)`` of two independent samples, bootstrap interval (BCa when small).

    Each sample is resampled on its own (scipy's multi-sample bootstrap), as fits groups that were not
    paired. For counterfactual pairs use :func:`auditkit.stats.paired_difference`, which resamples pairs.
    """
    from scipy.stats import bootstrap

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    first = bootstrap_kind(n=int(x.size + y.size))
    method = f"difference of means, bootstrap {first} {confidence:.0%} CI ({resamples} resamples)"
    if x.size == 0 or y.size == 0:
        return Interval(value=None, low=None, high=None, n=int(x.size + y.size), method=method)
    diff = float(x.mean() - y.mean())
    n = int(x.size + y.size)
    if x.size < 2 or y.size < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return Interval(value=diff, low=diff, high=diff, n=n, method=method)

    def statistic(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return u.mean(axis=axis) - v.mean(axis=axis)

    for kind in dict.fromkeys((first, "percentile")):
        result = bootstrap(
            (x, y), statistic, confidence_level=confidence, n_resamples=resamples, method=kind,
            rng=np.random.default_rng(seed), vectorized=True, batch=bootstrap_batch(n=n),
        )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            break
        method = f"difference of means, bootstrap percentile {confidence:.0%} CI ({resamples} resamples)"
    return Interval(value=diff, low=float(low), high=float(high), n=n, method=method)
