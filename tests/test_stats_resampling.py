"""The fast resampling paths are the same statistics as the slow ones they replace.

- :func:`resample_sums` draws a multinomial over distinct rows when they are few: its resampled sums have
  the same distribution as drawing row indices (mean, sd and quantiles agree within Monte Carlo error,
  and both match the bootstrap's known mean and variance).
- The sign-flip test by magnitude matches the exact binomial null of ±1 differences, and the table-lookup
  sign flips equal the unpacked-bit dot product on the same random bytes.
- Percentile intervals computed through the compressed path cover the truth about 95% of the time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import auditkit.stats.tests as tests_module
from auditkit.stats import bootstrap_mean_interval, intervals, paired_difference
from auditkit.stats.intervals import _distinct_rows, resample_sums
from auditkit.stats.tests import _NibbleSums, _sign_flip_p_value


class _Spy:
    """A numpy Generator that records which sampling methods were called."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.calls: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.calls.add(name)
        return getattr(self.rng, name)


def _samples() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 3000
    hits = rng.random((n, 3)) < [0.2, 0.3, 0.25]
    counts = np.ones((n, 3))
    counts[rng.random((n, 3)) < 0.05] = 0  # some outputs failed to score
    return {
        "binary": (rng.random(n) < 0.2).astype(float),
        "lengths": rng.poisson(12, n).astype(float),
        "cluster rows": np.hstack([hits * counts, counts]),
        "energy and tokens": np.column_stack([(t := rng.integers(20, 40, n)) * 0.05, t]).astype(float),
    }


@pytest.mark.parametrize("name", list(_samples()))
def test_compressed_resampling_has_the_index_resampling_distribution(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _samples()[name]
    resamples = 20_000
    spy = _Spy(1)
    compressed = resample_sums(rows=data, resamples=resamples, rng=spy)  # type: ignore[arg-type]
    assert spy.calls == {"multinomial"}
    monkeypatch.setattr(intervals, "COMPRESS_RATIO", 10**9)  # never compress: draw indices
    spy = _Spy(2)
    indexed = resample_sums(rows=data, resamples=resamples, rng=spy)  # type: ignore[arg-type]
    assert spy.calls == {"integers"}

    table = data.reshape(len(data), -1)
    n = table.shape[0]
    expected_mean = table.sum(axis=0)
    expected_sd = np.sqrt(n * table.var(axis=0))  # sum of n draws from the empirical distribution
    for sums in (compressed.reshape(resamples, -1), indexed.reshape(resamples, -1)):
        sd = sums.std(axis=0)
        assert np.all(np.abs(sums.mean(axis=0) - expected_mean) <= 4 * expected_sd / np.sqrt(resamples) + 1e-9)
        assert np.allclose(sd, expected_sd, rtol=4 / np.sqrt(2 * resamples), atol=1e-9)
    a, b = compressed.reshape(resamples, -1), indexed.reshape(resamples, -1)
    for q in (2.5, 50, 97.5):
        gap = np.abs(np.percentile(a, q, axis=0) - np.percentile(b, q, axis=0))
        # Two independent 20,000-draw quantile estimates (and integer-valued sums): within 0.1 sd + 1.
        assert np.all(gap <= 0.1 * expected_sd + 1.0), (q, gap, expected_sd)


def test_resample_sums_is_seeded_and_handles_continuous_data() -> None:
    x = np.random.default_rng(3).normal(size=5000)  # all distinct: drawn by index
    first = resample_sums(rows=x, resamples=300, rng=np.random.default_rng(7))
    again = resample_sums(rows=x, resamples=300, rng=np.random.default_rng(7))
    assert np.array_equal(first, again) and first.shape == (300,)
    assert abs(first.mean() / x.size - x.mean()) < 4 * x.std() / np.sqrt(x.size * 300)


def test_distinct_rows_match_numpy_unique() -> None:
    rng = np.random.default_rng(4)
    table = rng.integers(-3, 4, size=(2000, 3)).astype(float) * 0.5
    distinct, counts = _distinct_rows(table)
    ref, ref_counts = np.unique(table, axis=0, return_counts=True)
    assert np.array_equal(distinct, ref) and np.array_equal(counts, ref_counts)


@pytest.mark.parametrize("n", [1000, 1003, 4097])
def test_table_lookup_sign_flips_equal_the_bit_dot_product(n: int) -> None:
    rng = np.random.default_rng(n)
    d = rng.normal(size=n)
    flips = _NibbleSums(d=d)
    random_bytes = rng.integers(0, 256, size=(64, flips.width), dtype=np.uint8)
    bits = np.unpackbits(random_bytes, axis=1, count=n).astype(float)
    reference = (2.0 * (bits @ d) - d.sum()) / n
    assert np.allclose(flips.null_means(random_bytes), reference, rtol=0, atol=1e-13)


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.03])
def test_sign_flip_by_magnitude_matches_the_exact_binomial_null(shift: float, monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.stats import binom

    rng = np.random.default_rng(5)
    n = 4000
    # Differences of two binary outcomes: −1, 0 or +1 (two magnitudes at most).
    d = ((rng.random(n) < 0.2 + shift).astype(float) - (rng.random(n) < 0.2).astype(float))
    m, s = int(np.count_nonzero(d)), int(d.sum())
    # Exact: flipped sum = 2·B − m, B ~ Binomial(m, ½); observed sum s ⇔ B = (s + m) / 2.
    k = (s + m) // 2
    exact = min(1.0, 2 * min(binom.cdf(k, m, 0.5), binom.sf(k - 1, m, 0.5)))
    permutations = 20_000
    by_magnitude = _sign_flip_p_value(d=d, permutations=permutations, seed=1)
    monkeypatch.setattr(tests_module, "COMPRESS_RATIO", 10**9)  # force the per-pair bits
    by_bits = _sign_flip_p_value(d=d, permutations=permutations, seed=2)
    for p in (by_magnitude, by_bits):
        assert abs(p - exact) <= 4 * np.sqrt(max(exact * (1 - exact), 1e-3) / permutations) + 2 / permutations


def test_percentile_intervals_through_the_compressed_path_cover() -> None:
    rng = np.random.default_rng(6)
    runs, hits_mean, hits_paired = 200, 0, 0
    for seed in range(runs):
        counts = rng.poisson(3.0, size=2500).astype(float)  # ~12 distinct values: compressed
        iv = bootstrap_mean_interval(values=counts, resamples=1000, seed=seed)
        hits_mean += iv.low <= 3.0 <= iv.high  # type: ignore[operator]
        a = (rng.random(2500) < 0.35).astype(float)
        b = (rng.random(2500) < 0.30).astype(float)
        test = paired_difference(a=a, b=b, permutations=200, resamples=1000, seed=seed)
        hits_paired += test.ci_low <= 0.05 <= test.ci_high  # type: ignore[operator]
    assert "percentile" in iv.method and "percentile" in test.method
    assert 0.91 <= hits_mean / runs <= 0.99
    assert 0.91 <= hits_paired / runs <= 0.99
