"""How good is the toxicity scorer, and what are the run's toxic fractions once its error is corrected?

The toxicity analyzer hands this module its scorer (as a function from texts to probabilities), the
threshold and the run's toxic counts; it returns the metrics, findings and the report's ``instrument``
summary:

- the scorer's sensitivity and specificity on each calibration set (the built-in one, and the user's
  ``calibration`` file, which then drives the correction), as ``scorer_sensitivity`` /
  ``scorer_specificity`` metrics with Wilson intervals;
- ``toxic_fraction_corrected`` overall and per group (Rogan–Gladen, bootstrap over outputs and
  calibration set: :mod:`auditkit.stats.misclassification`);
- per bias axis (outputs whose attributes carry ``axis`` and ``group``): ``toxic_fraction_gap`` (largest
  minus smallest group toxic fraction) and ``toxic_fraction_gap_corrected``;
- the identity check (:mod:`auditkit.analyzers.identity_check`) and a ``scorer_identity_bias`` finding
  per group the scorer singles out; gaps on such an axis are marked ``scorer_bias_suspected``.

Calibration and identity texts are scored once per scorer identity and memoised
(:func:`~auditkit.analyzers.calibration.memoised_scores`), so fully cached reruns load no scorer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditkit.analyzers.calibration import (
    CalibrationSet,
    builtin_calibration,
    calibration_accuracy,
    category_table,
    memoised_scores,
)
from auditkit.analyzers.identity_check import IdentityCheck, identity_check, identity_statements
from auditkit.records import Finding, Metric
from auditkit.stats.intervals import Interval, percentile_interval, wilson_interval
from auditkit.stats.misclassification import (
    RESAMPLES,
    CorrectedRates,
    ScorerAccuracy,
    corrected_gap,
    corrected_rates,
)

__all__ = [
    "GroupCount",
    "Validity",
    "consistency_note",
    "gap_metrics",
    "instrument_summary",
    "measure_validity",
    "validity_findings",
    "validity_metrics",
]

_ANALYZER = "toxicity"
_SEED = 20240917


@dataclass(frozen=True, slots=True)
class GroupCount:
    """Toxic outputs out of scored outputs, overall (``group`` None) or for one group."""

    group: Mapping[str, str] | None
    toxic: int
    n: int


@dataclass(frozen=True, slots=True)
class Validity:
    """The scorer measured on its calibration sets and the identity statements."""

    sets: tuple[tuple[CalibrationSet, ScorerAccuracy, tuple[dict[str, Any], ...]], ...]
    """Each set with the scorer's accuracy on it and its per-category table; the last drives the correction."""
    identity: IdentityCheck | None
    threshold: float
    error: str | None = None
    """Why the scorer could not be measured (then no correction is made)."""

    @property
    def accuracy(self) -> ScorerAccuracy | None:
        """The accuracy the correction uses: the user's set when given, else the built-in one."""
        return self.sets[-1][1] if self.sets else None

    @property
    def correction_set(self) -> str | None:
        return self.sets[-1][0].name if self.sets else None


def measure_validity(
    *,
    scorer: Mapping[str, Any],
    score: Callable[[list[str]], Sequence[float]],
    threshold: float,
    builtin: bool,
    user_set: CalibrationSet | None,
    identity: bool,
    extra_groups: Mapping[str, Sequence[str]],
) -> Validity:
    """Score the calibration sets and identity statements (memoised per scorer ``identity``)."""
    sets = ([builtin_calibration(measure="toxicity")] if builtin else []) + ([user_set] if user_set else [])
    statements = identity_statements(extra_groups=extra_groups) if identity else ()
    texts = [t for s in sets for t in s.texts] + [s.text for s in statements]
    if not texts:
        return Validity(sets=(), identity=None, threshold=threshold)
    try:
        values = memoised_scores(scorer=scorer, texts=texts, score=score)
    except Exception as exc:  # the outputs' metrics stand without it; the report says why it is missing
        return Validity(sets=(), identity=None, threshold=threshold,
                        error=f"the scorer failed on the calibration texts: {type(exc).__name__}: {exc}")
    measured, start = [], 0
    for labelled in sets:
        own = values[start : start + len(labelled.items)]
        start += len(labelled.items)
        measured.append((labelled, calibration_accuracy(labelled=labelled, scores=own, threshold=threshold),
                         tuple(category_table(labelled=labelled, scores=own, threshold=threshold))))
    check = identity_check(statements=statements, scores=values[start:], threshold=threshold) if statements else None
    return Validity(sets=tuple(measured), identity=check, threshold=threshold)


def _metric(name: str, interval: Interval, group: Mapping[str, str] | None, *, unit: str,
            details: Mapping[str, Any]) -> Metric:
    return Metric(analyzer=_ANALYZER, name=name, value=interval.value, ci_low=interval.low, ci_high=interval.high,
                  n=interval.n, group=dict(group) if group is not None else None, method=interval.method,
                  unit=unit, details=dict(details))


def consistency_note(*, accuracy: ScorerAccuracy, toxic: int, n: int) -> str | None:
    """A note when the raw rate is impossible for a scorer with the calibration set's error rates.

    With no toxic output at all the scorer would still flag a share 1 − Sp of them, and with every output
    toxic only a share Se: a raw rate clearly outside [1 − Sp, Se] (95% intervals apart) says the outputs
    are unlike the calibration texts, so the correction's premise — the same error rates on both — fails.
    """
    raw = wilson_interval(successes=toxic, n=n)
    se, sp = accuracy.sensitivity, accuracy.specificity
    if raw.high is None or se.high is None or sp.high is None or sp.low is None or se.low is None:
        return None
    if raw.high < 1 - sp.high:
        return (f"the raw rate ({raw.value:.1%}, CI up to {raw.high:.1%}) is below the {1 - sp.high:.1%}–"
                f"{1 - sp.low:.1%} the scorer flags among the calibration set's non-toxic texts: these outputs "
                "are unlike the calibration texts, and the corrected rate (clipped at 0) is a floor, not an "
                "estimate. Pass a labelled sample of your own outputs as calibration=FILE.")
    if raw.low is not None and raw.low > se.high:
        return (f"the raw rate ({raw.value:.1%}) exceeds the scorer's sensitivity on the calibration set "
                f"(at most {se.high:.1%}): these outputs are unlike the calibration texts, and the corrected "
                "rate (clipped at 1) is not an estimate. Pass a labelled sample of your own outputs.")
    return None


def validity_metrics(*, validity: Validity, counts: Sequence[GroupCount]) -> list[Metric]:
    """Sensitivity, specificity and the corrected toxic fraction of every group in ``counts``."""
    accuracy = validity.accuracy
    if accuracy is None:
        return []
    source = {"calibration_set": validity.correction_set, "threshold": validity.threshold}
    out = [
        _metric("scorer_sensitivity", accuracy.sensitivity, None, unit="fraction",
                details={**source, "true_positives": accuracy.true_positives}),
        _metric("scorer_specificity", accuracy.specificity, None, unit="fraction",
                details={**source, "true_negatives": accuracy.true_negatives}),
    ]
    rates = corrected_rates(counts=[(c.toxic, c.n) for c in counts], accuracy=accuracy, seed=_SEED)
    for count, rate in zip(counts, rates.rates):
        details: dict[str, Any] = {**source, "raw": count.toxic / count.n if count.n else None,
                                   "sensitivity": accuracy.sensitivity.value,
                                   "specificity": accuracy.specificity.value}
        note = rates.note or (consistency_note(accuracy=accuracy, toxic=count.toxic, n=count.n) if count.n else None)
        if note:
            details["note"] = note
        out.append(_metric("toxic_fraction_corrected", rate, count.group, unit="fraction", details=details))
    return out


def _raw_gap(counts: Sequence[GroupCount]) -> Interval:
    method = (f"max − min of group toxic fractions; percentile bootstrap 95% CI over outputs "
              f"({RESAMPLES} resamples)")
    rates = [c.toxic / c.n for c in counts]
    rng = np.random.default_rng(_SEED)
    table = np.stack([rng.binomial(c.n, c.toxic / c.n, RESAMPLES) / c.n for c in counts], axis=1)
    low, high = percentile_interval(replicates=table.max(axis=1) - table.min(axis=1), confidence=0.95)
    return Interval(value=max(rates) - min(rates), low=low, high=high, n=sum(c.n for c in counts), method=method)


def gap_metrics(*, validity: Validity, axes: Mapping[str, Sequence[GroupCount]]) -> list[Metric]:
    """Raw and corrected toxic-fraction gap per bias axis with at least two scored groups."""
    out = []
    flagged = set(validity.identity.flagged_axes) if validity.identity else set()
    for axis, counts in sorted(axes.items()):
        counts = [c for c in counts if c.n > 0]
        if len(counts) < 2:
            continue
        details: dict[str, Any] = {"groups": [str((c.group or {}).get("group")) for c in counts]}
        if axis in flagged:
            details["scorer_bias_suspected"] = True
        out.append(_metric("toxic_fraction_gap", _raw_gap(counts), {"axis": axis}, unit="fraction", details=details))
        if validity.accuracy is not None:
            rates: CorrectedRates = corrected_rates(counts=[(c.toxic, c.n) for c in counts],
                                                    accuracy=validity.accuracy, seed=_SEED)
            extra = {"calibration_set": validity.correction_set, **({"note": rates.note} if rates.note else {})}
            out.append(_metric("toxic_fraction_gap_corrected", corrected_gap(rates=rates), {"axis": axis},
                               unit="fraction", details={**details, **extra}))
    return out


def validity_findings(*, validity: Validity) -> list[Finding]:
    """One ``scorer_identity_bias`` finding per group whose benign statements the scorer flags more often."""
    if validity.identity is None:
        return []
    out = []
    for row in validity.identity.rows:
        if not row["scorer_bias"]:
            continue
        out.append(Finding(
            analyzer=_ANALYZER, kind="scorer_identity_bias", severity="medium",
            title=(f"The toxicity scorer flags {row['flagged']} of {row['statements']} benign statements "
                   f"mentioning a {row['group']} as toxic ({row['false_positive_rate']:.0%}, vs "
                   f"{row['rest_rate']:.0%} for other {row['axis']} groups): toxicity gaps on the "
                   f"{row['axis']} axis may be the scorer's, not the model's."),
            groups=({"axis": str(row["axis"]), "group": str(row["group"])},),
            effect_size=row["false_positive_rate"] - (row["rest_rate"] or 0.0), p_value=row["p_adjusted"],
            details={"false_positive_rate": row["false_positive_rate"], "rest_rate": row["rest_rate"],
                     "p_value": row["p_value"], "mean_score": row["mean_score"],
                     "method": validity.identity.method},
        ))
    return out


def instrument_summary(*, validity: Validity, scorer: Mapping[str, Any], overall: GroupCount) -> dict[str, Any]:
    """The report's "how good are our instruments" entry for this scorer (results.json summary)."""
    accuracy = validity.accuracy
    note = None
    if validity.error:
        note = validity.error
    elif accuracy is not None and not accuracy.correctable:
        note = ("no correction possible: sensitivity + specificity ≤ 1 on the calibration set; "
                "toxic_fraction_corrected is n/a")
    elif accuracy is not None and overall.n:
        note = consistency_note(accuracy=accuracy, toxic=overall.toxic, n=overall.n)
    return {
        "measure": "toxicity",
        "scorer": {k: scorer.get(k) for k in ("backend", "version", "weights_hash", "model", "model_type")
                   if scorer.get(k) is not None},
        "threshold": validity.threshold,
        "calibration_sets": [
            {**labelled.describe(), "sensitivity": _interval(acc.sensitivity),
             "specificity": _interval(acc.specificity), "youden": acc.youden,
             "used_for_correction": index == len(validity.sets) - 1,
             "by_category": list(categories)}
            for index, (labelled, acc, categories) in enumerate(validity.sets)
        ],
        "correction": {
            "applied": bool(accuracy is not None and accuracy.correctable),
            "calibration_set": validity.correction_set,
            "metric": "toxic_fraction_corrected",
            "method": "Rogan–Gladen: (raw + specificity − 1) / (sensitivity + specificity − 1), clipped to "
                      "[0, 1]; 95% percentile bootstrap over the outputs and the calibration set",
            "note": note,
        },
        "identity_check": validity.identity.to_dict() if validity.identity else None,
    }


def _interval(interval: Interval) -> dict[str, Any]:
    return {"value": interval.value, "ci_low": interval.low, "ci_high": interval.high, "n": interval.n}
