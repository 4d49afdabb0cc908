"""The statistics behind the bias analyzer, over a plain table of per-output measures.

One row per scored output (:class:`Row`). For each axis and measure this module computes per-group
summaries, pairwise group comparisons (paired over counterfactual pairs when the prompts carry a ``pair``
key, unpaired otherwise), the minimum detectable effect of each comparison, and the fairlearn
``MetricFrame`` gap between group rates with a cluster-bootstrap interval. The analyzer in
:mod:`auditkit.analyzers.bias` turns these into metrics, findings and the report summary.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

import numpy as np

from auditkit.stats import (
    Interval,
    bootstrap_mean_interval,
    minimum_detectable_effect,
    paired_difference,
    two_sample_means,
    two_sample_rates,
    wilson_interval,
)

__all__ = [
    "Comparison",
    "RateGap",
    "Row",
    "attach_mde",
    "compare_groups",
    "group_summary",
    "rate_gaps",
    "refine_comparison",
]

MeasureKind = Literal["mean", "rate"]


@dataclass(frozen=True, slots=True)
class Row:
    """One scored output: where it belongs and its measures (``None`` when the scorer failed)."""

    prompt_id: str
    axis: str
    group: str
    unit: str
    """Counterfactual pair key (``Prompt.pair``), or the prompt's ``base_id`` when it has no pair."""
    base_id: str
    paired: bool
    values: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Group ``a`` against group ``b`` on one measure of one axis; ``gap = a − b``."""

    axis: str
    measure: str
    group_a: str
    group_b: str
    gap: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    effect_size: float | None
    n: int
    """Pairs (paired) or outputs in both groups (unpaired)."""
    paired: bool
    method: str
    pair_values: tuple[tuple[str, float, float], ...] = ()
    """Per pair (key, mean of a, mean of b): the evidence behind a paired comparison."""
    sd_diff: float | None = None
    pooled_rate: float | None = None
    n_a: int = 0
    n_b: int = 0
    mde: float | None = None
    """Smallest gap this comparison would detect with the configured power after correction; ``None``
    when no gap is detectable (too few pairs for the test to ever reach the corrected level)."""
    mde_note: str = ""
    p_adjusted: float | None = None
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RateGap:
    """fairlearn ``MetricFrame`` view of one binary outcome on one axis."""

    axis: str
    measure: str
    difference: float | None
    """``group_max() − group_min()`` of the group rates (fairlearn ``difference('between_groups')``)."""
    ci_low: float | None
    ci_high: float | None
    to_overall: float | None
    ratio: float | None
    """``group_min() / group_max()`` (fairlearn ``ratio('between_groups')``); ``None`` when all rates are 0."""
    highest: str | None
    lowest: str | None
    by_group: Mapping[str, float]
    n: int
    replicates: tuple[float, ...] = ()


def _values(rows: Sequence[Row], measure: str) -> list[tuple[Row, float]]:
    out = []
    for r in rows:
        v = r.values.get(measure)
        if v is not None and math.isfinite(v):
            out.append((r, float(v)))
    return out


def group_summary(
    *, rows: Sequence[Row], measure: str, kind: MeasureKind, resamples: int, seed: int
) -> Interval:
    """Group mean (bootstrap over prompts, samples of one prompt averaged first) or rate (Wilson)."""
    data = _values(rows, measure)
    if kind == "rate":
        hits = sum(1 for _, v in data if v >= 0.5)
        return wilson_interval(successes=hits, n=len(data))
    by_prompt: dict[str, list[float]] = {}
    for r, v in data:
        by_prompt.setdefault(r.base_id, []).append(v)
    means = [sum(v) / len(v) for v in by_prompt.values()]
    interval = bootstrap_mean_interval(values=means, resamples=resamples, seed=seed)
    return Interval(value=interval.value, low=interval.low, high=interval.high, n=len(data),
                    method=interval.method.replace("mean,", "mean over prompts,", 1))


def _unit_means(rows: Sequence[Row], measure: str, group: str) -> dict[str, float]:
    acc: dict[str, list[float]] = {}
    for r, v in _values([r for r in rows if r.group == group], measure):
        acc.setdefault(r.unit, []).append(v)
    return {k: sum(v) / len(v) for k, v in acc.items()}  # plain floats: np.mean costs µs per tiny list


def compare_groups(
    *,
    rows: Sequence[Row],
    axis: str,
    groups: Sequence[str],
    measure: str,
    kind: MeasureKind,
    test: Literal["permutation", "wilcoxon"],
    permutations: int,
    resamples: int,
    seed: int,
) -> list[Comparison]:
    """Every pair of groups on one measure: paired over shared counterfactual pairs when there are any."""
    comparisons = []
    paired_rows = [r for r in rows if r.paired]
    for index, (ga, gb) in enumerate(itertools.combinations(groups, 2)):
        ma, mb = _unit_means(paired_rows, measure, ga), _unit_means(paired_rows, measure, gb)
        shared = sorted(set(ma) & set(mb))
        sub_seed = seed + index
        if shared:
            a = np.array([ma[k] for k in shared])
            b = np.array([mb[k] for k in shared])
            result = paired_difference(a=a, b=b, method=test, permutations=permutations,
                                       resamples=resamples, seed=sub_seed)
            d = a - b
            pooled = float(np.mean(np.concatenate([a, b])))
            comparisons.append(Comparison(
                axis=axis, measure=measure, group_a=ga, group_b=gb, gap=result.mean_diff,
                ci_low=result.ci_low, ci_high=result.ci_high, p_value=result.p_value,
                effect_size=result.effect_size, n=result.n, paired=True, method=result.method,
                pair_values=tuple((k, float(x), float(y)) for k, x, y in zip(shared, a, b)),
                sd_diff=float(np.std(d, ddof=1)) if d.size > 1 else None, pooled_rate=pooled,
                n_a=len(shared), n_b=len(shared),
            ))
            continue
        xa = [v for _, v in _values([r for r in rows if r.group == ga], measure)]
        xb = [v for _, v in _values([r for r in rows if r.group == gb], measure)]
        if kind == "rate":
            sa, sb = sum(v >= 0.5 for v in xa), sum(v >= 0.5 for v in xb)
            rt = two_sample_rates(successes_a=int(sa), n_a=len(xa), successes_b=int(sb), n_b=len(xb))
            pooled = (sa + sb) / (len(xa) + len(xb)) if xa or xb else None
            comparisons.append(Comparison(
                axis=axis, measure=measure, group_a=ga, group_b=gb, gap=rt.diff, ci_low=rt.ci_low,
                ci_high=rt.ci_high, p_value=rt.p_value, effect_size=rt.effect_size, n=len(xa) + len(xb),
                paired=False, method=rt.method, pooled_rate=pooled, n_a=len(xa), n_b=len(xb),
            ))
        else:
            mt = two_sample_means(a=xa, b=xb, permutations=permutations, resamples=resamples, seed=sub_seed)
            both = np.array(xa + xb, dtype=float)
            comparisons.append(Comparison(
                axis=axis, measure=measure, group_a=ga, group_b=gb, gap=mt.diff, ci_low=mt.ci_low,
                ci_high=mt.ci_high, p_value=mt.p_value, effect_size=mt.effect_size, n=len(xa) + len(xb),
                paired=False, method=mt.method, sd_diff=float(np.std(both, ddof=1)) if both.size > 1 else None,
                n_a=len(xa), n_b=len(xb), extra={"a": xa, "b": xb},
            ))
    return comparisons


def refine_comparison(
    *, comparison: Comparison, test: Literal["permutation", "wilcoxon"], permutations: int, seed: int
) -> Comparison:
    """Recompute a permutation p-value with more resamples.

    A Monte Carlo permutation p-value cannot go below about 1/(resamples + 1); after correcting across m
    comparisons the first rejection needs p < alpha/m, which 2000 resamples cannot resolve once m is in the
    hundreds. Comparisons that might be significant get enough resamples to resolve that level.
    """
    from dataclasses import replace

    c = comparison
    if c.paired and test == "permutation" and c.pair_values:
        a = [x for _, x, _ in c.pair_values]
        b = [y for _, _, y in c.pair_values]
        result = paired_difference(a=a, b=b, method="permutation", permutations=permutations, resamples=10,
                                   seed=seed)
        return replace(c, p_value=result.p_value, method=c.method.replace(
            "permutation test (", f"permutation test (refined to {permutations} resamples; ", 1))
    if not c.paired and "a" in c.extra:
        result_m = two_sample_means(a=c.extra["a"], b=c.extra["b"], permutations=permutations,  # type: ignore[arg-type]
                                    resamples=10, seed=seed)
        return replace(c, p_value=result_m.p_value, method=c.method.replace(
            "permutation test of", f"permutation test (refined to {permutations} resamples) of", 1))
    return c


def attach_mde(
    *, comparison: Comparison, kind: MeasureKind, alpha: float, power: float, fallback_sd: float | None,
    p_adjusted: float | None,
) -> Comparison:
    """Fill in the minimum detectable effect (at the per-comparison level ``alpha``) and adjusted p."""
    from dataclasses import replace

    c = comparison
    note = ""
    mde: float | None
    if c.paired and c.n > 0 and 2.0 ** (1 - c.n) > alpha:  # float power: no overflow past 1023 pairs
        # The exact sign-flip test's smallest two-sided p-value is 2 / 2^n: with fewer pairs than that,
        # no gap of any size could ever be significant after correction.
        mde, note = None, f"too few pairs ({c.n}) for any gap to reach significance after correction"
    elif kind == "rate":
        n_a, n_b = (c.n, c.n) if c.paired else (c.n_a, c.n_b)
        base = min(max(c.pooled_rate or 0.0, 0.0), 1.0)
        mde = minimum_detectable_effect(n=max(n_a, 1), n_b=max(n_b, 1), alpha=alpha, power=power,
                                        kind="proportions", baseline_rate=base)
        note = "two-proportion power (conservative for paired data), at the pooled rate"
    else:
        sd = c.sd_diff if c.sd_diff else fallback_sd
        if not sd:
            mde, note = None, "no spread in this measure to estimate it from"
        elif c.paired:
            mde = minimum_detectable_effect(n=c.n, alpha=alpha, power=power, kind="paired", sd=sd)
            note = "paired t-test power with the observed sd of pair differences"
        else:
            mde = minimum_detectable_effect(n=max(c.n_a, 2), n_b=max(c.n_b, 2), alpha=alpha, power=power,
                                            kind="means", sd=sd)
            note = "two-sample t-test power with the pooled sd"
    if mde is not None and not math.isfinite(mde):
        mde, note = None, note or "no detectable gap at this sample size"
    return replace(c, mde=mde, mde_note=note, p_adjusted=p_adjusted)


def rate_gaps(
    *, rows: Sequence[Row], axis: str, groups: Sequence[str], measure: str, resamples: int, seed: int,
    confidence: float = 0.95,
) -> RateGap:
    """fairlearn MetricFrame of a binary outcome by group, with a cluster bootstrap over pairs."""
    import pandas as pd
    from fairlearn.metrics import MetricFrame, selection_rate

    data = _values(rows, measure)
    empty = RateGap(axis=axis, measure=measure, difference=None, ci_low=None, ci_high=None,
                    to_overall=None, ratio=None, highest=None, lowest=None, by_group={}, n=len(data))
    present = [g for g in groups if any(r.group == g for r, _ in data)]
    if len(present) < 2:
        return empty
    y = np.array([1 if v >= 0.5 else 0 for _, v in data])
    sensitive = pd.Series([r.group for r, _ in data], name=axis)
    frame = MetricFrame(metrics=selection_rate, y_true=y, y_pred=y, sensitive_features=sensitive)
    by_group = {str(k): float(v) for k, v in frame.by_group.items()}
    difference = float(frame.difference(method="between_groups"))
    ratio = frame.ratio(method="between_groups")
    ratio_value = float(ratio) if np.isfinite(ratio) else None
    replicates = _cluster_bootstrap(data=data, groups=present, resamples=resamples, seed=seed)
    tail = (1 - confidence) / 2 * 100
    finite = replicates[np.isfinite(replicates)]
    low, high = (np.percentile(finite, [tail, 100 - tail]) if finite.size else (np.nan, np.nan))
    return RateGap(
        axis=axis, measure=measure, difference=difference,
        ci_low=float(low) if np.isfinite(low) else None, ci_high=float(high) if np.isfinite(high) else None,
        to_overall=float(frame.difference(method="to_overall")), ratio=ratio_value,
        highest=max(by_group, key=by_group.__getitem__), lowest=min(by_group, key=by_group.__getitem__),
        by_group=by_group, n=len(data), replicates=tuple(float(x) for x in replicates),
    )


def _cluster_bootstrap(
    *, data: Sequence[tuple[Row, float]], groups: Sequence[str], resamples: int, seed: int
) -> np.ndarray:
    """Max − min group rate, recomputed on resampled units (pairs keep their groups together)."""
    units = sorted({r.unit for r, _ in data})
    u_index = {u: i for i, u in enumerate(units)}
    g_index = {g: j for j, g in enumerate(groups)}
    hits = np.zeros((len(units), len(groups)))
    counts = np.zeros((len(units), len(groups)))
    for r, v in data:
        if r.group in g_index:
            hits[u_index[r.unit], g_index[r.group]] += v >= 0.5
            counts[u_index[r.unit], g_index[r.group]] += 1
    rng = np.random.default_rng(seed)
    # Row blocks of at most ~4M weights (2000 resamples × 33k pairs would be 1 GB at once); each row's
    # multinomial draw is the same whatever the block size.
    probs = np.full(len(units), 1 / len(units))
    rows = max(1, 4_000_000 // len(units))
    num_parts, den_parts = [], []
    for start in range(0, resamples, rows):
        weights = rng.multinomial(len(units), probs, size=min(rows, resamples - start)).astype(float)
        num_parts.append(weights @ hits)
        den_parts.append(weights @ counts)
    num, den = np.concatenate(num_parts), np.concatenate(den_parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(den > 0, num / den, np.nan)
    valid = np.isfinite(rates).sum(axis=1) >= 2
    gaps = np.full(resamples, np.nan)
    gaps[valid] = np.nanmax(rates[valid], axis=1) - np.nanmin(rates[valid], axis=1)
    return gaps
