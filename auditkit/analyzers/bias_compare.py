"""The statistics behind the bias analyzer, over a columnar table of per-output measures.

One :class:`AxisTable` per axis holds every scored output of that axis as numpy columns (group, pair,
prompt, one float column per measure). For each axis and measure this module computes per-group
summaries, pairwise group comparisons (paired over counterfactual pairs when the prompts carry a ``pair``
key, unpaired otherwise), the minimum detectable effect of each comparison, and the fairlearn
``MetricFrame`` gap between group rates with a cluster-bootstrap interval. The analyzer in
:mod:`auditkit.analyzers.bias` turns these into metrics, findings and the report summary.

Averages within a pair × group or a prompt are ``np.bincount`` sums over integer codes, built once per
axis: at 100,000 outputs, per-row Python loops per group pair and measure cost more than the statistics.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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
from auditkit.stats.intervals import percentile_interval, resample_sums

__all__ = [
    "AxisTable",
    "Comparison",
    "RateGap",
    "attach_mde",
    "compare_groups",
    "group_summary",
    "rate_gaps",
    "refine_comparison",
]

MeasureKind = Literal["mean", "rate"]


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True, eq=False)
class AxisTable:
    """Every scored output of one axis, one entry per output in every column (arrays are read-only)."""

    axis: str
    groups: tuple[str, ...]
    """Groups in order of first appearance."""
    units: np.ndarray
    """Distinct unit keys, sorted (object array): the counterfactual pair (``Prompt.pair``), or the
    prompt's ``base_id`` when it has no pair."""
    prompt_ids: np.ndarray
    """Prompt id of each output (object array)."""
    group: np.ndarray
    """Index into ``groups`` of each output."""
    unit: np.ndarray
    """Index into ``units`` of each output."""
    prompt: np.ndarray
    """Code of each output's ``base_id``: samples of one prompt share it."""
    paired: np.ndarray
    """Whether each output's prompt carries a ``pair`` key."""
    values: Mapping[str, np.ndarray]
    """Per measure, one float per output; NaN where the scorer failed or gave a non-finite value."""

    @classmethod
    def build(
        cls, *, axis: str, prompt_ids: Sequence[str], groups: Sequence[str], units: Sequence[str],
        base_ids: Sequence[str], paired: Sequence[bool], values: Mapping[str, Sequence[float | None]],
    ) -> AxisTable:
        import pandas as pd

        group_codes, group_names = pd.factorize(np.asarray(groups, dtype=object))
        unit_codes, unit_keys = pd.factorize(np.asarray(units, dtype=object), sort=True)
        prompt_codes, _ = pd.factorize(np.asarray(base_ids, dtype=object))
        columns = {}
        for measure, column in values.items():
            array = np.array(column, dtype=float)  # None becomes NaN
            array[~np.isfinite(array)] = np.nan
            columns[measure] = _frozen(array)
        return cls(
            axis=axis, groups=tuple(str(g) for g in group_names),
            units=_frozen(np.asarray(unit_keys, dtype=object)),
            prompt_ids=_frozen(np.asarray(prompt_ids, dtype=object)),
            group=_frozen(group_codes.astype(np.intp)), unit=_frozen(unit_codes.astype(np.intp)),
            prompt=_frozen(prompt_codes.astype(np.intp)), paired=_frozen(np.asarray(paired, dtype=bool)),
            values=columns,
        )

    @property
    def size(self) -> int:
        return int(self.group.size)

    def group_counts(self) -> dict[str, int]:
        """Outputs per group (scored or not)."""
        counts = np.bincount(self.group, minlength=len(self.groups))
        return {g: int(c) for g, c in zip(self.groups, counts)}

    def prompt_ids_of(self, *, unit: str, group: str) -> list[str]:
        """Prompt ids of one unit's outputs in one group (the evidence behind a pair's value)."""
        code = int(np.searchsorted(self.units, unit))
        if code >= self.units.size or self.units[code] != unit or group not in self.groups:
            return []
        hit = (self.unit == code) & (self.group == self.groups.index(group))
        return [str(x) for x in self.prompt_ids[hit]]

    def scored(self, measure: str) -> np.ndarray:
        """Mask of outputs with a finite value of ``measure``."""
        return np.isfinite(self.values[measure])


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


def group_summary(
    *, table: AxisTable, group: str, measure: str, kind: MeasureKind, resamples: int, seed: int
) -> Interval:
    """Group mean (bootstrap over prompts, samples of one prompt averaged first) or rate (Wilson)."""
    v = table.values[measure]
    mask = table.scored(measure) & (table.group == table.groups.index(group))
    n = int(np.count_nonzero(mask))
    if kind == "rate":
        return wilson_interval(successes=int(np.count_nonzero(v[mask] >= 0.5)), n=n)
    codes = table.prompt[mask]
    # bincount adds in row order, as a running sum over each prompt's samples would.
    sums = np.bincount(codes, weights=v[mask])
    counts = np.bincount(codes)
    means = sums[counts > 0] / counts[counts > 0]
    interval = bootstrap_mean_interval(values=means, resamples=resamples, seed=seed)
    return Interval(value=interval.value, low=interval.low, high=interval.high, n=n,
                    method=interval.method.replace("mean,", "mean over prompts,", 1))


def _cell_sums(table: AxisTable, measure: str, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of ``measure`` per unit × group over the outputs in ``mask`` (units × groups)."""
    shape = (table.units.size, len(table.groups))
    cell = table.unit[mask] * shape[1] + table.group[mask]
    sums = np.bincount(cell, weights=table.values[measure][mask], minlength=shape[0] * shape[1])
    counts = np.bincount(cell, minlength=shape[0] * shape[1])
    return sums.reshape(shape), counts.reshape(shape)


def compare_groups(
    *,
    table: AxisTable,
    measure: str,
    kind: MeasureKind,
    test: Literal["permutation", "wilcoxon"],
    permutations: int,
    resamples: int,
    seed: int,
) -> list[Comparison]:
    """Every pair of groups on one measure: paired over shared counterfactual pairs when there are any."""
    axis, groups = table.axis, table.groups
    comparisons = []
    scored = table.scored(measure)
    sums, counts = _cell_sums(table, measure, scored & table.paired)
    for index, (ia, ib) in enumerate(itertools.combinations(range(len(groups)), 2)):
        ga, gb = groups[ia], groups[ib]
        shared = (counts[:, ia] > 0) & (counts[:, ib] > 0)  # units are sorted: so are the shared pairs
        sub_seed = seed + index
        if shared.any():
            a = sums[shared, ia] / counts[shared, ia]
            b = sums[shared, ib] / counts[shared, ib]
            result = paired_difference(a=a, b=b, method=test, permutations=permutations,
                                       resamples=resamples, seed=sub_seed)
            d = a - b
            pooled: float | None = float(np.mean(np.concatenate([a, b])))
            comparisons.append(Comparison(
                axis=axis, measure=measure, group_a=ga, group_b=gb, gap=result.mean_diff,
                ci_low=result.ci_low, ci_high=result.ci_high, p_value=result.p_value,
                effect_size=result.effect_size, n=result.n, paired=True, method=result.method,
                pair_values=tuple(zip(table.units[shared].tolist(), a.tolist(), b.tolist())),
                sd_diff=float(np.std(d, ddof=1)) if d.size > 1 else None, pooled_rate=pooled,
                n_a=int(a.size), n_b=int(b.size),
            ))
            continue
        xa, sampled_a = _per_prompt(table, measure, scored & (table.group == ia))
        xb, sampled_b = _per_prompt(table, measure, scored & (table.group == ib))
        if kind == "rate" and (sampled_a or sampled_b):
            kind_here: MeasureKind = "mean"  # shares per prompt: compared as means over prompts, below
        else:
            kind_here = kind
        if kind_here == "rate":
            sa, sb = int(np.count_nonzero(xa >= 0.5)), int(np.count_nonzero(xb >= 0.5))
            rt = two_sample_rates(successes_a=sa, n_a=int(xa.size), successes_b=sb, n_b=int(xb.size))
            pooled = (sa + sb) / (xa.size + xb.size) if xa.size or xb.size else None
            comparisons.append(Comparison(
                axis=axis, measure=measure, group_a=ga, group_b=gb, gap=rt.diff, ci_low=rt.ci_low,
                ci_high=rt.ci_high, p_value=rt.p_value, effect_size=rt.effect_size, n=int(xa.size + xb.size),
                paired=False, method=rt.method, pooled_rate=pooled, n_a=int(xa.size), n_b=int(xb.size),
            ))
        else:
            mt = two_sample_means(a=xa, b=xb, permutations=permutations, resamples=resamples, seed=sub_seed)
            both = np.concatenate([xa, xb])
            over = "; outputs of one prompt averaged first (samples are not independent)" if (
                sampled_a or sampled_b) else ""
            comparisons.append(Comparison(
                axis=axis, measure=measure, group_a=ga, group_b=gb, gap=mt.diff, ci_low=mt.ci_low,
                ci_high=mt.ci_high, p_value=mt.p_value, effect_size=mt.effect_size, n=int(xa.size + xb.size),
                paired=False, method=mt.method + over, sd_diff=float(np.std(both, ddof=1)) if both.size > 1 else None,
                pooled_rate=float(both.mean()) if kind == "rate" and both.size else None,
                n_a=int(xa.size), n_b=int(xb.size), extra={"a": tuple(xa.tolist()), "b": tuple(xb.tolist())},
            ))
    return comparisons


def _per_prompt(table: AxisTable, measure: str, mask: np.ndarray) -> tuple[Any, bool]:
    """The values of ``mask``'s outputs, one per prompt: a prompt's samples averaged (a rate becomes the
    prompt's share). Unpaired tests treat their values as independent, which k samples of one prompt are
    not. Also whether any prompt had more than one sample (without samples: the outputs, unchanged)."""
    codes = table.prompt[mask]
    values = table.values[measure][mask]
    if codes.size == np.unique(codes).size:
        return values, False
    sums = np.bincount(codes, weights=values)
    counts = np.bincount(codes)
    return sums[counts > 0] / counts[counts > 0], True


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
        sd = c.sd_diff or fallback_sd
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
    *, table: AxisTable, measure: str, resamples: int, seed: int, confidence: float = 0.95,
) -> RateGap:
    """fairlearn MetricFrame of a binary outcome by group, with a cluster bootstrap over pairs."""
    import pandas as pd
    from fairlearn.metrics import MetricFrame, selection_rate

    axis = table.axis
    scored = table.scored(measure)
    n = int(np.count_nonzero(scored))
    empty = RateGap(axis=axis, measure=measure, difference=None, ci_low=None, ci_high=None,
                    to_overall=None, ratio=None, highest=None, lowest=None, by_group={}, n=n)
    codes = table.group[scored]
    present = np.flatnonzero(np.bincount(codes, minlength=len(table.groups)))
    if present.size < 2:
        return empty
    y = (table.values[measure][scored] >= 0.5).astype(int)
    # fairlearn stacks its inputs element by element (0.7 s per 100,000 outputs); a rate depends only on
    # how many outputs of each group have each outcome, so it gets those counts as sample weights: the
    # same rates, to the bit (Σ weight · selected / Σ weight of integers).
    cells = np.bincount(codes * 2 + y, minlength=2 * len(table.groups))
    kept = np.flatnonzero(cells)
    outcome = kept % 2
    sensitive = pd.Series(np.asarray(table.groups, dtype=object)[kept // 2], name=axis)
    frame = MetricFrame(metrics=selection_rate, y_true=outcome, y_pred=outcome, sensitive_features=sensitive,
                        sample_params={"sample_weight": cells[kept]})
    by_group = {str(k): float(v) for k, v in frame.by_group.items()}
    difference = float(frame.difference(method="between_groups"))
    ratio = frame.ratio(method="between_groups")
    ratio_value = float(ratio) if np.isfinite(ratio) else None
    # Columns of the present groups only, in the axis's group order.
    column = np.full(len(table.groups), -1)
    column[present] = np.arange(present.size)
    replicates = _cluster_bootstrap(units=table.unit[scored], columns=column[codes], width=int(present.size),
                                    hits=y, resamples=resamples, seed=seed)
    low, high = percentile_interval(replicates=replicates, confidence=confidence)
    return RateGap(
        axis=axis, measure=measure, difference=difference,
        ci_low=low if np.isfinite(low) else None, ci_high=high if np.isfinite(high) else None,
        to_overall=float(frame.difference(method="to_overall")), ratio=ratio_value,
        highest=max(by_group, key=by_group.__getitem__), lowest=min(by_group, key=by_group.__getitem__),
        by_group=by_group, n=n, replicates=tuple(replicates.tolist()),
    )


def _cluster_bootstrap(
    *, units: np.ndarray, columns: np.ndarray, width: int, hits: np.ndarray, resamples: int, seed: int
) -> np.ndarray:
    """Max − min group rate, recomputed on resampled units (pairs keep their groups together).

    Each unit is one row of (hits per group, outputs per group); :func:`resample_sums` resamples those rows
    with replacement. Units with the same row are interchangeable, so it draws how often each distinct
    row is picked (a multinomial: exact, and a handful of rows for binary outcomes instead of one per pair).
    """
    _, unit_codes = np.unique(units, return_inverse=True)
    cells = unit_codes * width + columns
    size = (int(unit_codes.max()) + 1) * width
    per_unit = np.hstack([
        np.bincount(cells, weights=hits, minlength=size).reshape(-1, width),
        np.bincount(cells, minlength=size).reshape(-1, width).astype(float),
    ])
    totals = resample_sums(rows=per_unit, resamples=resamples, rng=np.random.default_rng(seed))
    num, den = totals[:, :width], totals[:, width:]
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(den > 0, num / den, np.nan)
    valid = np.isfinite(rates).sum(axis=1) >= 2
    gaps = np.full(resamples, np.nan)
    gaps[valid] = np.nanmax(rates[valid], axis=1) - np.nanmin(rates[valid], axis=1)
    return gaps
