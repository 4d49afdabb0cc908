"""Minimum detectable effect: the smallest gap an audit of this size would find with the given power.

"No finding" alone says little: a 10-prompt audit misses large gaps. The minimum detectable effect (MDE)
turns it into a statement a reader can use — "no finding, and this audit would have detected a gap of
0.12 or more with 80% power". Computed with statsmodels power solvers (normal / t approximations to the
tests we run), so it is a planning figure, not an exact property of the permutation tests.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

__all__ = ["minimum_detectable_effect"]


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
