"""A classifier's own error, and rates corrected for it (Rogan–Gladen).

Every toxicity or regard figure is a classifier's opinion. Scored on a labelled calibration set, the
classifier's sensitivity Se (share of truly positive texts it flags) and specificity Sp (share of truly
negative texts it passes) give the apparent rate's expectation ``q = Se·p + (1 − Sp)·(1 − p)`` for a true
rate ``p``; solving for ``p`` is the Rogan–Gladen estimator (Rogan & Gladen 1978)::

    p = (q + Sp − 1) / (Se + Sp − 1)

clipped to [0, 1]. It exists only when ``Se + Sp > 1`` (Youden's J > 0): a scorer no better than a coin
carries no information to correct with, and then no corrected rate is given (``note`` says why).

The interval carries both sources of uncertainty: a bootstrap that resamples the audit outputs *and* the
calibration set (its positives and negatives separately, as the set's class sizes are fixed by design).
Binary outputs resampled with replacement have binomial counts, so each replicate is drawn as binomial
counts — exactly the nonparametric bootstrap, in microseconds. The calibration proportions are drawn from
their Jeffreys Beta distribution (a smoothed bootstrap), so a perfect score on a finite set still carries
uncertainty. Rates of several groups scored by one
scorer share each replicate's (Se*, Sp*), so gaps between them get a joint interval.

Example::

    accuracy = scorer_accuracy(true_positives=70, positives=100, true_negatives=190, negatives=200)
    rates = corrected_rates(counts=[(164, 1000)], accuracy=accuracy)
    rates.rates[0].value, rates.rates[0].low, rates.rates[0].high
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auditkit.stats.intervals import Interval, percentile_interval, wilson_interval

__all__ = [
    "CorrectedRates",
    "ScorerAccuracy",
    "corrected_gap",
    "corrected_rates",
    "rogan_gladen",
    "scorer_accuracy",
]

RESAMPLES = 2000
_TOO_WEAK = ("no correction possible: sensitivity + specificity ≤ 1 on the calibration set (the scorer "
             "separates toxic from non-toxic texts no better than chance)")


@dataclass(frozen=True, slots=True)
class ScorerAccuracy:
    """A binary scorer's sensitivity and specificity on a labelled set, with Wilson intervals."""

    sensitivity: Interval
    """True positives / labelled positives."""
    specificity: Interval
    """True negatives / labelled negatives."""
    true_positives: int
    positives: int
    true_negatives: int
    negatives: int

    @property
    def youden(self) -> float | None:
        """Se + Sp − 1: the correction divides by it; none when either class is missing."""
        if self.sensitivity.value is None or self.specificity.value is None:
            return None
        return self.sensitivity.value + self.specificity.value - 1.0

    @property
    def correctable(self) -> bool:
        """Whether Rogan–Gladen applies (Youden's J > 0)."""
        return self.youden is not None and self.youden > 0


def scorer_accuracy(
    *, true_positives: int, positives: int, true_negatives: int, negatives: int, confidence: float = 0.95
) -> ScorerAccuracy:
    """Sensitivity and specificity from the calibration counts (Wilson intervals, statsmodels)."""
    return ScorerAccuracy(
        sensitivity=wilson_interval(successes=true_positives, n=positives, confidence=confidence),
        specificity=wilson_interval(successes=true_negatives, n=negatives, confidence=confidence),
        true_positives=true_positives, positives=positives, true_negatives=true_negatives, negatives=negatives,
    )


def rogan_gladen(*, apparent: float, sensitivity: float, specificity: float) -> float | None:
    """The corrected rate, clipped to [0, 1]; ``None`` when sensitivity + specificity ≤ 1."""
    youden = sensitivity + specificity - 1.0
    if youden <= 0:
        return None
    return float(min(1.0, max(0.0, (apparent + specificity - 1.0) / youden)))


@dataclass(frozen=True, slots=True)
class CorrectedRates:
    """Corrected rates of one or more groups scored by one scorer, with their joint bootstrap."""

    rates: tuple[Interval, ...]
    """One per input count, in order; ``value`` None when no correction is possible."""
    replicates: np.ndarray
    """``resamples × groups`` clipped corrected rates (NaN where a replicate's Se* + Sp* ≤ 1)."""
    confidence: float
    note: str | None
    """Why there is no correction, or why an interval is wider than the bootstrap alone would say."""


def _method(resamples: int, confidence: float) -> str:
    return (f"Rogan–Gladen corrected rate, clipped to [0, 1]; percentile bootstrap {confidence:.0%} CI "
            f"over the outputs and the calibration set (Jeffreys-smoothed; {resamples} resamples)")


def _draw_calibration(accuracy: ScorerAccuracy, resamples: int, rng: np.random.Generator) -> np.ndarray:
    # Jeffreys Beta(x + ½, n − x + ½) draws rather than a plain binomial resample: a scorer that passes
    # all 150 benign texts has a resampled specificity of exactly 1 every time, and the interval then
    # forgets that 150 texts cannot prove perfection (coverage fell to 91% at a 3.6% rate in simulation;
    # 96% with these draws).
    tp, fn = accuracy.true_positives, accuracy.positives - accuracy.true_positives
    tn, fp = accuracy.true_negatives, accuracy.negatives - accuracy.true_negatives
    return np.stack([rng.beta(tp + 0.5, fn + 0.5, resamples), rng.beta(tn + 0.5, fp + 0.5, resamples)])


def corrected_rates(
    *,
    counts: Sequence[tuple[int, int]],
    accuracy: ScorerAccuracy,
    resamples: int = RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> CorrectedRates:
    """Rogan–Gladen rates for ``(flagged, n)`` counts of groups scored by the scorer of ``accuracy``.

    When more than the interval's tail share of replicates has Se* + Sp* ≤ 1 (a weak scorer or a small
    calibration set), the data cannot bound the rate and the interval is the whole [0, 1].
    """
    method = _method(resamples, confidence)
    empty = np.full((resamples, len(counts)), np.nan)
    if not accuracy.correctable:
        none = tuple(Interval(value=None, low=None, high=None, n=n, method=method) for _, n in counts)
        return CorrectedRates(rates=none, replicates=empty, confidence=confidence, note=_TOO_WEAK)
    rng = np.random.default_rng(seed)
    se_star, sp_star = _draw_calibration(accuracy, resamples, rng)
    youden_star = se_star + sp_star - 1.0
    weak = youden_star <= 0
    replicates = empty.copy()
    for j, (flagged, n) in enumerate(counts):
        if n <= 0:
            continue
        q_star = rng.binomial(n, flagged / n, resamples) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            p_star = np.clip((q_star + sp_star - 1.0) / youden_star, 0.0, 1.0)
        replicates[:, j] = np.where(weak, np.nan, p_star)
    unbounded = weak.mean() > (1 - confidence) / 2
    se, sp = accuracy.sensitivity.value, accuracy.specificity.value
    assert se is not None and sp is not None  # correctable
    rates: list[Interval] = []
    for j, (flagged, n) in enumerate(counts):
        if n <= 0:
            rates.append(Interval(value=None, low=None, high=None, n=0, method=method))
            continue
        value = rogan_gladen(apparent=flagged / n, sensitivity=se, specificity=sp)
        low, high = (0.0, 1.0) if unbounded else percentile_interval(replicates=replicates[:, j],
                                                                      confidence=confidence)
        rates.append(Interval(value=value, low=low, high=high, n=n, method=method))
    note = (f"{weak.mean():.0%} of the bootstrap's calibration resamples have sensitivity + specificity ≤ 1: "
            "the interval is the whole [0, 1]; a larger calibration set would narrow it") if unbounded else None
    return CorrectedRates(rates=tuple(rates), replicates=replicates, confidence=confidence, note=note)


def corrected_gap(*, rates: CorrectedRates) -> Interval:
    """Largest minus smallest corrected rate of the groups, with the joint bootstrap's interval."""
    method = ("max − min of Rogan–Gladen corrected group rates; percentile bootstrap "
              f"{rates.confidence:.0%} CI, groups resampled with shared calibration draws")
    present = [j for j, r in enumerate(rates.rates) if r.value is not None]
    n = sum(rates.rates[j].n for j in present)
    if len(present) < 2:
        return Interval(value=None, low=None, high=None, n=n, method=method)
    values = [rates.rates[j].value for j in present]
    table = rates.replicates[:, present]
    finite = np.isfinite(table).all(axis=1)
    spread = np.where(finite, np.nanmax(table, axis=1) - np.nanmin(table, axis=1), np.nan)
    if rates.note is not None and (~finite).mean() > (1 - rates.confidence) / 2:
        low, high = 0.0, 1.0
    else:
        low, high = percentile_interval(replicates=spread, confidence=rates.confidence)
    known = [v for v in values if v is not None]
    return Interval(value=float(max(known) - min(known)), low=low, high=high, n=n, method=method)
