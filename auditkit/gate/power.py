"""What a comparison could have seen: the minimum detectable regression, and the audit size a rule needs.

A regression test that passes says "no significant worsening", which is only worth something when the
audit was big enough to see one. For every (metric, baseline) comparison the gate and ``auditkit diff``
make, :func:`regression_power` gives the **minimum detectable regression** (MDR): the smallest worsening,
in the metric's units and including the rule's allowed margin, that the very test the gate runs
(:mod:`auditkit.gate.baseline`) would find with 80% power at the per-test level after the multiple-testing
correction. The correction's level is the conservative one, ``alpha / m`` for ``m`` tests: Holm's first
step, and BH's level when a single test is significant, so the figure holds whatever the other tests show.

- Proportions (two-proportion test): statsmodels' power of the two-sample Wald test of the difference,
  at the baseline's observed rate (checked against the Agresti–Caffo test the gate runs by simulation in
  ``tests/test_gate_power.py``).
- Everything else (z-test on CI-derived standard errors): ``margin + (z₁₋α + z₀.₈) · se``.

When a rule states the regression it must see (``detect:``), :attr:`Detectability.outputs_needed` is how
many outputs per run (both runs: a regression test needs the same suite on both sides) would bring the
MDR down to it. :func:`outputs_to_clear` answers the same question for an absolute limit on a CI bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditkit.gate.baseline import Untestable, interval_se, proportion_counts

__all__ = ["DEFAULT_POWER", "Detectability", "outputs_to_clear", "regression_power"]

DEFAULT_POWER = 0.8
"""The power every reported minimum detectable regression is computed at."""


@dataclass(frozen=True, slots=True)
class Detectability:
    """The smallest regression one comparison would detect, and what a stated target would need."""

    mdr: float | None
    """Minimum detectable regression (worsening, metric units, margin included); ``None``: none is
    detectable at this size (e.g. a rate would have to exceed 1)."""
    alpha: float
    """Per-test level the figure assumes (the rule's alpha over the number of corrected tests)."""
    power: float
    n: int | None
    n_baseline: int | None
    method: str
    detect: float | None = None
    """The regression the rule must be able to see (policy ``detect:``), if any."""
    outputs_needed: int | None = None
    """Outputs per run that would bring the MDR down to ``detect`` (when it is above it and reachable)."""

    @property
    def underpowered(self) -> bool:
        """True when the rule states ``detect`` and this comparison could not see it."""
        return self.detect is not None and (self.mdr is None or self.mdr > self.detect + 1e-12)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mdr": self.mdr,
            "alpha_per_test": self.alpha,
            "power": self.power,
            "n": self.n,
            "n_baseline": self.n_baseline,
            "method": self.method,
            "detect": self.detect,
            "underpowered": self.underpowered,
            "outputs_needed": self.outputs_needed,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def regression_power(
    *,
    new: Mapping[str, Any],
    old: Mapping[str, Any],
    alpha: float,
    margin: float = 0.0,
    direction: str = "higher_is_worse",
    detect: float | None = None,
    power: float = DEFAULT_POWER,
) -> Detectability:
    """The MDR of the comparison of ``new`` with ``old`` at per-test level ``alpha``.

    ``direction`` is the gate's (``higher_is_worse`` / ``lower_is_worse``, one-sided test of worsening
    beyond ``margin``) or ``two-sided`` (``auditkit diff``: the smallest change either way). Raises
    :class:`Untestable` when the metrics carry too little (no interval) — as the test itself would.
    """
    from auditkit.stats.power import detectable_rate_increase, detectable_shift, rate_sample_size

    n_new, n_old = _n(new), _n(old)
    counts_new, counts_old = proportion_counts(new), proportion_counts(old)
    if counts_new is not None and counts_old is not None:
        rate = counts_old[0] / counts_old[1]
        # A worsening of a lower-is-worse rate is a rise of its complement.
        starts = [rate, 1 - rate] if direction == "two-sided" else [1 - rate if direction == "lower_is_worse" else rate]
        two_sided = direction == "two-sided"
        gaps = [
            detectable_rate_increase(baseline_rate=p0, n=counts_new[1], n_baseline=counts_old[1], alpha=alpha,
                                     power=power, margin=0.0 if two_sided else margin, two_sided=two_sided)
            for p0 in starts
        ]
        # Two-sided: the larger of the rise and the fall that stay within [0, 1] (a rate near 0 cannot fall
        # much, which says nothing about how well a rise would be seen).
        mdr = _finite(max((g for g in gaps if math.isfinite(g)), default=math.inf))
        needed = None
        if detect is not None and (mdr is None or mdr > detect) and not two_sided:
            size = rate_sample_size(baseline_rate=starts[0], increase=detect, alpha=alpha, power=power,
                                    margin=margin, ratio=counts_old[1] / counts_new[1])
            needed = math.ceil(size) if math.isfinite(size) else None
        return Detectability(
            mdr=mdr, alpha=alpha, power=power, n=counts_new[1], n_baseline=counts_old[1],
            method="two-proportion test power (statsmodels, at the baseline rate)", detect=detect,
            outputs_needed=needed,
        )
    if min(n_new or 0, n_old or 0) < 2:
        raise Untestable("has fewer than 2 observations in a run, so no standard error")
    se = math.hypot(interval_se(new), interval_se(old))
    two_sided = direction == "two-sided"
    mdr = _finite(detectable_shift(se=se, alpha=alpha, power=power, margin=margin, two_sided=two_sided))
    needed = None
    if detect is not None and mdr is not None and mdr > detect and detect > margin and n_new and se > 0:
        # Both standard errors shrink as 1/√n when both runs grow by the same factor.
        factor = ((mdr - margin) / (detect - margin)) ** 2
        needed = math.ceil(n_new * factor)
    return Detectability(
        mdr=mdr, alpha=alpha, power=power, n=n_new, n_baseline=n_old,
        method="z-test power, standard errors from the 95% CIs", detect=detect, outputs_needed=needed,
    )


def _n(metric: Mapping[str, Any]) -> int | None:
    value = metric.get("n")
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def outputs_to_clear(*, metric: Mapping[str, Any], bound: str, threshold: float) -> int | None:
    """Outputs needed for the metric's 95% bound (``ci_high`` or ``ci_low``) to clear ``threshold`` with the
    point estimate staying as observed; ``None`` when the point estimate itself is on the wrong side or the
    metric has no size. Wilson-exact for proportions, else the interval's half-width scaled as 1/√n."""
    from auditkit.stats.power import wilson_sample_size

    value, n, edge = metric.get("value"), _n(metric), metric.get(bound)
    if value is None or edge is None or not n or bound not in ("ci_high", "ci_low"):
        return None
    upper = bound == "ci_high"
    value, edge = float(value), float(edge)
    if (upper and value >= threshold) or (not upper and value <= threshold):
        return None
    if proportion_counts(metric) is not None:
        size = wilson_sample_size(rate=value, limit=threshold, upper=upper)
    else:
        half, room = abs(edge - value), abs(threshold - value)
        size = n * (half / room) ** 2 if room > 0 else math.inf
    return math.ceil(size) if math.isfinite(size) else None
