"""Statistics at audit scale: the fast paths agree with the reference implementations they replace.

- Holm / Benjamini–Hochberg (numpy) equal statsmodels ``multipletests`` on random and tied p-values.
- The numpy sign-flip test agrees with scipy's ``permutation_test`` within Monte Carlo error, and finds
  a planted paired gap while passing a null one.
- Large samples use the percentile bootstrap (named in ``method``), small ones BCa; large-sample
  intervals cover the true mean and stay cheap.
"""

from __future__ import annotations

import numpy as np
import pytest

from auditkit.stats import adjust_p_values, bootstrap_mean_interval, paired_difference
from auditkit.stats.intervals import BCA_MAX_N, bootstrap_difference_interval
from auditkit.stats.tests import _sign_flip_p_value


@pytest.mark.parametrize("method,sm_name", [("holm", "holm"), ("bh", "fdr_bh")])
@pytest.mark.parametrize("seed", range(6))
def test_adjust_matches_statsmodels(method: str, sm_name: str, seed: int) -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 60))
    p = rng.random(m) ** 3  # many small p-values
    if seed % 2:
        p[: m // 2] = p[0]  # ties
        p[-1] = 1.0
    ours = adjust_p_values(p_values=p.tolist(), method=method)  # type: ignore[arg-type]
    reference = multipletests(p, method=sm_name)[1]
    assert ours == pytest.approx(np.minimum(reference, 1.0).tolist(), abs=1e-12)


@pytest.mark.parametrize("gap", [0.0, 0.006, 0.02])
def test_sign_flip_agrees_with_scipy(gap: float) -> None:
    from scipy import stats

    rng = np.random.default_rng(3)
    a = rng.random(1500)
    b = a - rng.normal(gap, 0.1, a.size)
    ref = stats.permutation_test((a - b,), np.mean, permutation_type="samples", vectorized=True,
                                 n_resamples=2000, rng=np.random.default_rng(0)).pvalue
    ours = _sign_flip_p_value(d=a - b, permutations=2000, seed=0)
    # Two independent 2000-draw Monte Carlo estimates of one p-value: within ~4 standard errors.
    assert abs(ours - ref) <= 4 * np.sqrt(max(ref * (1 - ref), 1e-3) / 2000) + 2 / 2001


def test_large_paired_difference_planted_and_null() -> None:
    rng = np.random.default_rng(5)
    a = rng.random(5000)
    planted = paired_difference(a=a, b=a - 0.02 + rng.normal(0, 0.1, a.size))
    null = paired_difference(a=a, b=a + rng.normal(0, 0.1, a.size))
    assert planted.p_value is not None and planted.p_value < 0.01
    assert planted.ci_low is not None and planted.ci_low > 0
    assert null.p_value is not None and null.p_value > 0.01
    assert "percentile" in planted.method


def test_bootstrap_method_switches_at_size_and_covers() -> None:
    rng = np.random.default_rng(7)
    small = bootstrap_mean_interval(values=rng.random(BCA_MAX_N).tolist())
    assert "BCa" in small.method
    big = rng.normal(0.3, 1.0, 50_000)
    iv = bootstrap_mean_interval(values=big.tolist())
    assert "percentile" in iv.method and iv.n == big.size
    assert iv.low is not None and iv.high is not None and iv.low < 0.3 < iv.high
    assert iv.high - iv.low < 0.05
    diff = bootstrap_difference_interval(a=big[:30_000].tolist(), b=(big[30_000:] + 0.5).tolist())
    assert "percentile" in diff.method and diff.high is not None and diff.high < 0
