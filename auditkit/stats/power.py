"""Minimum detectable effect: the smallest gap an audit of this size would find with the given power.

Two families live here. :func:`minimum_detectable_effect` plans the bias analyzer's two-sided group
comparisons (standardized effects). The *regression* solvers plan the gate's baseline comparisons, with
the same tests the gate runs (:mod:`auditkit.gate.baseline`): :func:`detectable_rate_increase` and
:func:`rate_sample_size` for the two-proportion test of a rate's rise beyond a margin (statsmodels
``power_proportions_2indep`` / ``samplesize_proportions_2indep_onetail``, the Wald test of the difference
that the Agresti–Caffo test adjusts), :func:`detectable_shift` for the z-test on a difference with a known
standard error, and :func:`wilson_sample_size` for "how many outputs until the Wilson bound clears a
limit".

"No finding" alone says little: a 10-prompt audit misses large gaps. The minimum detectable effect (MDE)
turns it into a statement a reader can use — "no finding, and this audit would have detected a gap of
0.12 or more with 80% power". Computed with statsmodels power solvers (normal / t approximations to the
tests we run), so it is a planning figure, not an exact property of the permutation tests.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

__all__ = [
    "detectable_rate_increase",
    "detectable_shift",
    "minimum_detectable_effect",
    "rate_sample_size",
    "wilson_sample_size",
]

_MAX_N = 10**9
"""Sample sizes past this are reported as unreachable (the solvers' search bound)."""


def minimum_detectable_effect(
    *,
    n: int,
    alpha: float = 0.05,
    power: float = 0.8,
    kind: Literal["paired", "means", "proportions"] = "paired",
    n_b: int | None = None,
    sd: float | None = None,
    baseline_rate: float | None = None,
) -> float:
    """Smallest two-sided effect detectable with ``power`` at level ``alpha``; ``inf`` when none is.

    - ``paired``: ``n`` pairs, one-sample t-test on the differences. Returns Cohen's d_z, or the gap in
      the measure's units when ``sd`` (the standard deviation of the pair differences) is given.
    - ``means``: two independent groups of ``n`` and ``n_b`` (default ``n``), t-test. Returns Cohen's d,
      or the gap in units when ``sd`` (the pooled standard deviation) is given.
    - ``proportions``: two independent groups, z-test on Cohen's h. Returns h, or — when
      ``baseline_rate`` is given — the smallest rate difference from that baseline detectable in either
      direction (the larger of the upward and downward gaps that stay within [0, 1]).

    Pass the per-comparison alpha you actually test at: with Holm or BH over m comparisons the first
    rejection needs p < alpha / m, so ``alpha / m`` gives the conservative figure.
    """
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must lie in (0, 1), got alpha={alpha}, power={power}")
    n_other = n if n_b is None else n_b
    if kind == "paired":
        if n < 2:
            return math.inf
        effect = _standardized(kind="paired", n=n, n_b=n, alpha=alpha, power=power)
        return effect * sd if sd is not None else effect
    if kind == "means":
        if n < 2 or n_other < 2:
            return math.inf
        effect = _standardized(kind="means", n=n, n_b=n_other, alpha=alpha, power=power)
        return effect * sd if sd is not None else effect
    if kind == "proportions":
        if n < 1 or n_other < 1:
            return math.inf
        h = _standardized(kind="proportions", n=n, n_b=n_other, alpha=alpha, power=power)
        if baseline_rate is None:
            return h
        return _rate_gap_for_h(h=h, baseline=baseline_rate)
    raise ValueError(f"kind must be 'paired', 'means' or 'proportions', got {kind!r}")


@lru_cache(maxsize=4096)
def _standardized(*, kind: str, n: int, n_b: int, alpha: float, power: float) -> float:
    """The standardized effect (d_z, d or h) statsmodels solves for; cached because an audit asks for the
    same sample sizes many times and each solve is a numerical root search."""
    from statsmodels.stats.power import NormalIndPower, TTestIndPower, TTestPower

    if kind == "paired":
        value = TTestPower().solve_power(nobs=n, alpha=alpha, power=power)
    elif kind == "means":
        value = TTestIndPower().solve_power(nobs1=n, ratio=n_b / n, alpha=alpha, power=power)
    else:
        value = NormalIndPower().solve_power(nobs1=n, ratio=n_b / n, alpha=alpha, power=power)
    value = float(value[0] if hasattr(value, "__len__") else value)
    return abs(value) if math.isfinite(value) else math.inf


def _rate_gap_for_h(*, h: float, baseline: float) -> float:
    """Invert Cohen's h around ``baseline``: h = 2·asin(√p2) − 2·asin(√p1)."""
    if not 0 <= baseline <= 1:
        raise ValueError(f"baseline_rate must lie in [0, 1], got {baseline}")
    phi = 2 * math.asin(math.sqrt(baseline))
    gaps = []
    for target in (phi + h, phi - h):
        if 0 <= target <= math.pi:
            gaps.append(abs(math.sin(target / 2) ** 2 - baseline))
    return max(gaps) if gaps else math.inf


def detectable_rate_increase(
    *,
    baseline_rate: float,
    n: int,
    n_baseline: int,
    alpha: float,
    power: float = 0.8,
    margin: float = 0.0,
    two_sided: bool = False,
) -> float:
    """Smallest rise ``d`` of a rate above ``baseline_rate`` that a two-proportion test detects with
    ``power``: one-sided of ``d > margin`` at ``alpha`` (the gate), or two-sided at ``alpha`` (``auditkit
    diff``, ``margin`` 0). ``n`` outputs in the new run, ``n_baseline`` in the baseline. ``inf`` when no rise
    that keeps the rate ≤ 1 is detectable.
    """
    from scipy.optimize import brentq

    _check_levels(alpha=alpha, power=power)
    p0 = min(max(float(baseline_rate), 0.0), 1.0)
    if n < 1 or n_baseline < 1 or margin >= 1.0 - p0:
        return math.inf
    top = (1.0 - p0) * (1 - 1e-6)  # at a rate of exactly 1 the alternative has no variance

    def shortfall(diff: float) -> float:
        return _rate_power(diff=diff, p0=p0, n=n, n_baseline=n_baseline, alpha=alpha, margin=margin,
                           two_sided=two_sided) - power

    low = margin + 1e-9
    if shortfall(top) < 0:
        return math.inf
    if shortfall(low) >= 0:
        return low
    return float(brentq(shortfall, low, top, xtol=1e-7))


def _rate_power(
    *, diff: float, p0: float, n: int, n_baseline: int, alpha: float, margin: float, two_sided: bool
) -> float:
    import warnings

    from statsmodels.stats.proportion import power_proportions_2indep

    if margin and not two_sided:
        return _margin_power(diff=diff, p0=p0, n=n, n_baseline=n_baseline, alpha=alpha, margin=margin)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 at the edges of [0, 1]: read as no power
        value = power_proportions_2indep(
            diff, p0, n, ratio=n_baseline / n, alpha=alpha, value=0.0 if two_sided else margin,
            alternative="two-sided" if two_sided else "larger", return_results=False,
        )
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _margin_variance(*, p0: float, increase: float, ratio: float) -> float:
    """n times the variance of the rate difference, the baseline run having ``ratio`` times the outputs."""
    p1 = p0 + increase
    return p1 * (1 - p1) + p0 * (1 - p0) / ratio


def _margin_power(*, diff: float, p0: float, n: int, n_baseline: int, alpha: float, margin: float) -> float:
    """Power of the one-sided Wald test of ``d > margin`` (the large-sample form of the gate's Agresti–Caffo
    test). statsmodels' power solvers raise NotImplementedError for a non-zero difference under the null,
    so this one normal-approximation formula is written out: z = (d − margin) / se with the unpooled se."""
    from scipy.stats import norm

    se = math.sqrt(_margin_variance(p0=p0, increase=diff, ratio=n_baseline / n) / n)
    if se == 0:
        return 1.0 if diff > margin else 0.0
    return float(norm.sf(norm.isf(alpha) - (diff - margin) / se))


def rate_sample_size(
    *, baseline_rate: float, increase: float, alpha: float, power: float = 0.8, margin: float = 0.0,
    ratio: float = 1.0,
) -> float:
    """Outputs the new run needs (the baseline having ``ratio`` times as many) for the one-sided
    two-proportion test of ``d > margin`` to detect a rise of ``increase`` with ``power``; ``inf`` when
    ``increase`` does not exceed ``margin`` or leaves [0, 1]."""
    import warnings

    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    _check_levels(alpha=alpha, power=power)
    p0 = min(max(float(baseline_rate), 0.0), 1.0)
    if increase <= margin or p0 + increase > 1.0:
        return math.inf
    if margin:  # the inverse of _margin_power: n = (z₁₋α + z_power)² · n·var / (increase − margin)²
        from scipy.stats import norm

        z = float(norm.isf(alpha) + norm.ppf(power))
        value = z * z * _margin_variance(p0=p0, increase=increase, ratio=ratio) / (increase - margin) ** 2
        return value if 0 < value < _MAX_N else math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(samplesize_proportions_2indep_onetail(
            increase, p0, power, ratio=ratio, alpha=alpha, value=margin, alternative="larger"
        ))
    return value if math.isfinite(value) and 0 < value < _MAX_N else math.inf


def detectable_shift(
    *, se: float, alpha: float, power: float = 0.8, margin: float = 0.0, two_sided: bool = False
) -> float:
    """Smallest worsening a z-test on a difference with standard error ``se`` detects with ``power``:
    ``margin + (z₁₋α + z_power) · se`` one-sided, ``(z₁₋α/₂ + z_power) · se`` two-sided (the far tail's
    share of the power is negligible at any useful power)."""
    from scipy.stats import norm

    _check_levels(alpha=alpha, power=power)
    if not math.isfinite(se) or se < 0:
        return math.inf
    z_alpha = norm.isf(alpha / 2 if two_sided else alpha)
    return (0.0 if two_sided else margin) + float(z_alpha + norm.ppf(power)) * se


def wilson_sample_size(
    *, rate: float, limit: float, upper: bool = True, confidence: float = 0.95
) -> float:
    """Outputs needed for the Wilson interval around an observed ``rate`` to clear ``limit`` (its upper
    bound below it, or with ``upper=False`` its lower bound above it), the rate staying as observed;
    ``inf`` when the rate itself is on the wrong side of the limit."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    if (upper and rate >= limit) or (not upper and rate <= limit):
        return math.inf
    z = float(norm.isf((1 - confidence) / 2))

    def excess(n: float) -> float:  # how far the bound still overshoots the limit at n outputs
        centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (centre + half - limit) if upper else (limit - (centre - half))

    if excess(1.0) <= 0:
        return 1.0
    if excess(float(_MAX_N)) > 0:
        return math.inf
    return float(brentq(excess, 1.0, float(_MAX_N), xtol=0.5))


def _check_levels(*, alpha: float, power: float) -> None:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must lie in (0, 1), got alpha={alpha}, power={power}")
