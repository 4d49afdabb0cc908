"""Confidence intervals: proportions (Wilson), means (bootstrap BCa, Student-t), paired differences.

The formulas come from scipy and statsmodels; this module only chooses methods, guards edge cases (empty
data, all-equal values) and names the method so results say how each number was obtained.

Bootstrap size rule: BCa's acceleration comes from a jackknife that scipy evaluates on an n × (n − 1)
array — O(n²) time and memory (8,000 values: 13 s and 1.3 GB). Up to ``BCA_MAX_N`` values it is cheap
and BCa is used; above it the percentile bootstrap is used (resampled in bounded batches), which is
where the two agree: BCa's corrections shrink as 1/√n. The returned ``method`` names which one ran.

Large percentile bootstraps run in :func:`resample_sums`, not scipy: the same resampling (n draws with
replacement, per resample), but drawn as a multinomial over the sample's distinct values when they are
few (rates, counts, rounded scores), which is exact and makes 2,000 resamples of 33,000 values cost
milliseconds instead of seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "BCA_MAX_N",
    "Interval",
    "bootstrap_batch",
    "bootstrap_difference_interval",
    "bootstrap_kind",
    "bootstrap_mean_interval",
    "mean_interval",
    "percentile_interval",
    "resample_sums",
    "wilson_interval",
]


BCA_MAX_N = 2000
"""Largest sample (total values) bootstrapped with BCa; larger ones use the percentile bootstrap."""
_MAX_BATCH_CELLS = 4_000_000
"""Bound on resampled values held at once (~32 MB of float64), whatever the sample size."""
_INDEX_BLOCK_CELLS = 1 << 18
"""Indices drawn per block when resampling by index: small blocks keep the gathered values in cache
(about 20% faster than 4M-cell blocks at 33,000 values)."""
COMPRESS_RATIO = 16
"""Resample by distinct values when there are at most n / 16 of them: one binomial draw (per distinct
value and resample) costs about as much as 16 uniform index draws (numpy PCG64, measured)."""


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


def resample_sums(*, rows: ArrayLike, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Column sums of ``resamples`` nonparametric bootstrap resamples of the rows of ``rows``.

    ``rows`` is n values or an n × c array whose rows are resampled together (paired quantities, such as
    numerator and denominator of a ratio, or the groups of one counterfactual pair). Returns shape
    ``(resamples,)`` or ``(resamples, c)``.

    Rows with identical values are exchangeable: the number of the n draws that land on the k-th distinct
    row (present ``count_k`` times) is Multinomial(n, count_k / n) jointly over k, exactly the distribution
    of drawing n row indices uniformly with replacement. With K distinct rows that is K draws per resample
    instead of n, used when K ≤ n / ``COMPRESS_RATIO``; otherwise indices are drawn (int32, in bounded
    blocks).
    """
    data = np.asarray(rows, dtype=float)
    flat = data.ndim == 1
    table = data[:, None] if flat else data
    n = table.shape[0]
    if n == 0:
        raise ValueError("cannot resample an empty sample")
    distinct, counts = _distinct_rows(table)
    out = np.empty((resamples, table.shape[1]))
    if distinct.shape[0] * COMPRESS_RATIO <= n:
        probs = counts / n
        block = max(1, _MAX_BATCH_CELLS // distinct.shape[0])
        for start in range(0, resamples, block):
            size = min(block, resamples - start)
            out[start:start + size] = rng.multinomial(n, probs, size=size).astype(float) @ distinct
    else:
        columns = [np.ascontiguousarray(table[:, j]) for j in range(table.shape[1])]
        index_type = np.int32 if n < 2**31 else np.int64  # 32-bit draws are about twice as fast
        block = max(1, _INDEX_BLOCK_CELLS // n)
        for start in range(0, resamples, block):
            size = min(block, resamples - start)
            index = rng.integers(0, n, size=(size, n), dtype=index_type)
            for j, column in enumerate(columns):
                out[start:start + size, j] = column[index].sum(axis=1)
    return out[:, 0] if flat else out


def _distinct_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of an n × c array (sorted) and how often each occurs."""
    if table.shape[1] == 1:
        values, counts = np.unique(table[:, 0], return_counts=True)
        return values[:, None], counts
    # One integer key per row from the columns' value ranks: a 1-d unique, far faster than numpy's
    # row-wise unique (a sort of structured records) on tens of thousands of rows.
    key = np.zeros(table.shape[0], dtype=np.int64)
    span = 1
    for j in range(table.shape[1]):
        ranks, codes = np.unique(table[:, j], return_inverse=True)
        span *= ranks.size
        if span >= 2**62:
            distinct, counts = np.unique(table, axis=0, return_counts=True)
            return distinct, counts
        key = key * ranks.size + codes.reshape(-1)
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return table[first], counts


def percentile_interval(*, replicates: ArrayLike, confidence: float) -> tuple[float, float]:
    """Percentile bootstrap interval: the (1 ± confidence)/2 quantiles of the finite replicates, linearly
    interpolated as scipy's ``bootstrap(method="percentile")`` does; NaNs when none is finite."""
    values = np.asarray(replicates, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


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
    values: Sequence[float] | np.ndarray,
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
    if kind == "percentile":
        means = resample_sums(rows=data, resamples=resamples, rng=np.random.default_rng(seed)) / data.size
        low, high = percentile_interval(replicates=means, confidence=confidence)
        return Interval(value=mean, low=low, high=high, n=int(data.size), method=method)
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
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
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

    if first == "percentile":
        # Each sample resampled on its own, as scipy's multi-sample bootstrap does.
        rng = np.random.default_rng(seed)
        diffs = (resample_sums(rows=x, resamples=resamples, rng=rng) / x.size
                 - resample_sums(rows=y, resamples=resamples, rng=rng) / y.size)
        low, high = percentile_interval(replicates=diffs, confidence=confidence)
        return Interval(value=diff, low=low, high=high, n=n, method=method)

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
