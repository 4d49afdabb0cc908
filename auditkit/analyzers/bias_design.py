"""The bias analyzer's testing design: one omnibus test per axis and measure, post-hoc tests inside.

Why this design (docs/bias.md, "Spending α"): testing every pair of groups on every measure makes
hundreds of comparisons (the full suite: 7 axes × 7 measures × up to 15 pairs), and after any correction
each one is tested at a level so small that only very large gaps are detectable. Most axes of most models
show no gap at all; the question to ask first is *whether an axis differs at all*. So:

1. **Omnibus** — per axis and measure, one test that all groups are equal: a within-pair permutation
   test of the between-group variance over the counterfactual pairs that hold every group of the axis
   (group labels shuffled inside each pair: the randomisation version of Cochran's Q for 0/1 outcomes and
   of a repeated-measures ANOVA for means). Without complete pairs: the chi-square test of equal
   proportions, or Kruskal–Wallis for means. Holm (or BH) over the run's omnibus tests — the only
   family α is spread over (7 × 7 = 49 tests in the full suite, not ~700).
2. **Post-hoc** — only inside an axis whose omnibus test is significant: each group against the rest of
   its axis (paired over pairs: the group's value minus the mean of the others in that pair, sign-flip
   permutation test), Holm over the axis's k groups at α. A finding names one group and how it differs
   from the others, which is also the statement a reader wants.

Strict familywise control over every post-hoc hypothesis would need the closure principle; the gatekeeping
above controls it exactly for the omnibus family and for three-group axes, and closely otherwise (the
simulations in tests/test_bias_power.py measure the false-finding rate with no planted gap).

:func:`design_mde` gives the minimum detectable rate gap of this design: the smallest gap of one group
above the others (at a base rate, 0.2 by default) found with the given power by both stages — the
omnibus at its worst-case Holm level α/F and the post-hoc at α/k. Normal / noncentral-χ² approximations
that treat outputs as independent: a planning figure, as for every MDE.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from auditkit.analyzers.bias_compare import AxisTable, Comparison

__all__ = [
    "DesignResult",
    "Omnibus",
    "REST",
    "design_mde",
    "group_vs_rest",
    "omnibus_test",
    "refine_omnibus",
    "run_design",
]

REST = "the rest of the axis"
"""``group_b`` of a post-hoc comparison: the other groups of the axis, pooled."""
_CHUNK = 2000


@dataclass(frozen=True, slots=True, eq=False)
class Omnibus:
    """One axis × measure test that every group has the same mean (or rate)."""

    axis: str
    measure: str
    statistic: float | None
    p_value: float | None
    method: str
    n_units: int
    """Complete counterfactual pairs (paired) or outputs (unpaired)."""
    k: int
    """Groups compared."""
    n_per_group: int
    """Smallest number of units (paired) or outputs (unpaired) behind one group."""
    paired: bool
    p_adjusted: float | None = None
    matrix: np.ndarray | None = None
    """Paired only: complete units × groups cell means (kept to refine the p-values and for the post-hoc)."""
    units: tuple[str, ...] = ()
    """Paired only: the unit key of each matrix row."""
    group_p: tuple[float, ...] = ()
    """Paired only: per group, the permutation p-value of its deviation from the rest (same resamples)."""
    group_p_adjusted: tuple[float, ...] = ()
    """Paired only: the same, Westfall–Young max-T adjusted over the axis's groups."""


def _complete_matrix(table: AxisTable, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """Units × groups cell means over units that hold every group of the axis (paired outputs only), and
    the index of each kept unit in ``table.units``."""
    k = len(table.groups)
    mask = table.scored(measure) & table.paired
    cell = table.unit[mask] * k + table.group[mask]
    size = table.units.size * k
    sums = np.bincount(cell, weights=table.values[measure][mask], minlength=size).reshape(-1, k)
    counts = np.bincount(cell, minlength=size).reshape(-1, k)
    complete = (counts > 0).all(axis=1)
    return sums[complete] / counts[complete], np.flatnonzero(complete)


def _between_ss(matrix: np.ndarray) -> np.ndarray:
    """Between-group sum of squares of column means (last two axes: units × groups)."""
    means = matrix.mean(axis=-2)
    return ((means - means.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)


def _permutation_tests(matrix: np.ndarray, *, permutations: int, seed: int
                       ) -> tuple[float, np.ndarray, np.ndarray]:
    """Within-row (within-pair) permutation tests from one set of resamples.

    Returns the omnibus p-value (between-group sum of squares), each group's p-value for its deviation
    from the rest (``|mean_g − mean of the others|``, which is proportional to ``|mean_g − grand mean|``
    because shuffling inside rows keeps the grand mean), and those p-values adjusted with the
    Westfall–Young single-step max-T over the axis's groups (strong familywise control within the axis).
    """
    k = matrix.shape[1]
    means = matrix.mean(axis=0)
    deviation = np.abs(means - means.mean())
    observed = float(((means - means.mean()) ** 2).sum())
    spread = np.ptp(matrix, axis=1) > 0
    varying = matrix[spread]  # rows with one value cannot change any statistic
    if varying.size == 0 or observed <= 1e-15:
        return 1.0, np.ones(k), np.ones(k)
    fixed_sums = matrix[~spread].sum(axis=0)
    rng = np.random.default_rng(seed)
    rows = varying.shape[0]
    hits, group_hits, max_hits = 0, np.zeros(k), np.zeros(k)
    done = 0
    tolerance = 1e-12
    while done < permutations:
        size = min(_CHUNK, permutations - done)
        order = rng.random((size, rows, k)).argsort(axis=2)
        shuffled = np.take_along_axis(np.broadcast_to(varying, (size, rows, k)), order, axis=2)
        perm_means = (shuffled.sum(axis=1) + fixed_sums) / matrix.shape[0]
        centred = perm_means - perm_means.mean(axis=1, keepdims=True)
        hits += int(np.count_nonzero((centred ** 2).sum(axis=1) >= observed - tolerance))
        perm_dev = np.abs(centred)
        group_hits += (perm_dev >= deviation - tolerance).sum(axis=0)
        max_hits += (perm_dev.max(axis=1)[:, None] >= deviation - tolerance).sum(axis=0)
        done += size
    scale = permutations + 1
    return (hits + 1) / scale, (group_hits + 1) / scale, (max_hits + 1) / scale


def _paired_omnibus(*, axis: str, measure: str, table: AxisTable, matrix: np.ndarray, kept: np.ndarray,
                    permutations: int, seed: int, refined: bool = False) -> Omnibus:
    p, group_p, group_max = _permutation_tests(matrix, permutations=permutations, seed=seed)
    label = f"refined to {permutations} resamples" if refined else f"{permutations} resamples"
    return Omnibus(
        axis=axis, measure=measure, statistic=float(_between_ss(matrix)), p_value=p,
        method=(f"within-pair permutation test of the between-group variance ({label}) over {matrix.shape[0]} "
                "complete counterfactual pairs"),
        n_units=int(matrix.shape[0]), k=matrix.shape[1], n_per_group=int(matrix.shape[0]), paired=True,
        matrix=matrix, units=tuple(str(u) for u in table.units[kept]),
        group_p=tuple(float(x) for x in group_p), group_p_adjusted=tuple(float(x) for x in group_max))


def omnibus_test(*, table: AxisTable, measure: str, kind: Literal["mean", "rate"], permutations: int,
                 seed: int) -> Omnibus:
    """All groups of the axis equal on ``measure``? Paired when complete counterfactual pairs exist."""
    from scipy import stats

    k = len(table.groups)
    axis = table.axis
    if k < 2:
        return Omnibus(axis=axis, measure=measure, statistic=None, p_value=None, method="one group: no test",
                       n_units=0, k=k, n_per_group=0, paired=False)
    matrix, kept = _complete_matrix(table, measure)
    if matrix.shape[0] >= 2:
        return _paired_omnibus(axis=axis, measure=measure, table=table, matrix=matrix, kept=kept,
                               permutations=permutations, seed=seed)
    scored = table.scored(measure)
    samples = [table.values[measure][scored & (table.group == g)] for g in range(k)]
    samples = [s for s in samples if s.size]
    n_min = min((s.size for s in samples), default=0)
    if len(samples) < 2:
        return Omnibus(axis=axis, measure=measure, statistic=None, p_value=None, method="fewer than two groups "
                       "with outputs: no test", n_units=0, k=k, n_per_group=n_min, paired=False)
    total = int(sum(s.size for s in samples))
    if kind == "rate":
        from auditkit.stats import rates_homogeneity

        result = rates_homogeneity(successes=[int(np.count_nonzero(s >= 0.5)) for s in samples],
                                   totals=[int(s.size) for s in samples])
        return Omnibus(axis=axis, measure=measure, statistic=result.statistic, p_value=result.p_value,
                       method=result.method + " (no complete counterfactual pairs)", n_units=total, k=k,
                       n_per_group=n_min, paired=False)
    if np.ptp(np.concatenate(samples)) == 0:
        return Omnibus(axis=axis, measure=measure, statistic=0.0, p_value=1.0, method="no variation",
                       n_units=total, k=k, n_per_group=n_min, paired=False)
    h = stats.kruskal(*samples)
    return Omnibus(axis=axis, measure=measure, statistic=float(h.statistic), p_value=float(h.pvalue),
                   method="Kruskal–Wallis test (no complete counterfactual pairs)", n_units=total, k=k,
                   n_per_group=n_min, paired=False)


def refine_omnibus(*, omnibus: Omnibus, permutations: int, seed: int) -> Omnibus:
    """More resamples for a paired omnibus p-value that might pass a small corrected level."""
    if not omnibus.paired or omnibus.matrix is None:
        return omnibus
    p, group_p, group_max = _permutation_tests(omnibus.matrix, permutations=permutations, seed=seed)
    from dataclasses import replace

    return replace(omnibus, p_value=p, group_p=tuple(float(x) for x in group_p),
                   group_p_adjusted=tuple(float(x) for x in group_max),
                   method=omnibus.method.replace(" resamples)", " resamples; refined to "
                                                 f"{permutations})", 1))


def _paired_posthoc(*, omnibus: Omnibus, groups: Sequence[str], resamples: int, seed: int) -> list[Comparison]:
    """Each group against the mean of the others in the same pair, from the omnibus's permutations."""
    from auditkit.stats import bootstrap_mean_interval

    matrix = omnibus.matrix
    assert matrix is not None
    k = matrix.shape[1]
    out = []
    for g, group in enumerate(groups):
        a = matrix[:, g]
        b = (matrix.sum(axis=1) - a) / (k - 1)
        d = a - b
        interval = bootstrap_mean_interval(values=d, resamples=resamples, seed=seed + g)
        sd = float(np.std(d, ddof=1)) if d.size > 1 else None
        out.append(Comparison(
            axis=omnibus.axis, measure=omnibus.measure, group_a=group, group_b=REST, gap=float(d.mean()),
            ci_low=interval.low, ci_high=interval.high, p_value=omnibus.group_p[g],
            p_adjusted=omnibus.group_p_adjusted[g], effect_size=float(d.mean()) / sd if sd else None,
            n=int(d.size), paired=True,
            method=("group minus the mean of the other groups in each counterfactual pair; within-pair "
                    "permutation test (the omnibus test's resamples), Westfall–Young max-T adjusted over the "
                    f"axis's groups; {interval.method} over pairs"),
            pair_values=tuple(zip(omnibus.units, a.tolist(), b.tolist())), sd_diff=sd,
            pooled_rate=float(matrix.mean()), n_a=int(a.size), n_b=int(b.size)))
    return out


def group_vs_rest(*, table: AxisTable, measure: str, kind: Literal["mean", "rate"], omnibus: Omnibus,
                  test: Literal["permutation", "wilcoxon"], permutations: int, resamples: int,
                  seed: int) -> list[Comparison]:
    """Each group against the pooled rest of its axis; ``gap = group − rest``. Paired comparisons come
    with max-T adjusted p-values; unpaired ones (no complete pairs) are Holm-adjusted by the caller."""
    from auditkit.stats import two_sample_means, two_sample_rates

    if omnibus.paired and omnibus.matrix is not None:
        return _paired_posthoc(omnibus=omnibus, groups=table.groups, resamples=resamples, seed=seed)
    from auditkit.analyzers.bias_compare import _per_prompt

    k = len(table.groups)
    scored = table.scored(measure)
    out = []
    for g, group in enumerate(table.groups):
        # One value per prompt: k samples of one prompt are not independent outputs.
        xa, sampled_a = _per_prompt(table, measure, scored & (table.group == g))
        xb, sampled_b = _per_prompt(table, measure, scored & (table.group != g))
        if kind == "rate" and not (sampled_a or sampled_b):
            sa, sb = int(np.count_nonzero(xa >= 0.5)), int(np.count_nonzero(xb >= 0.5))
            rt = two_sample_rates(successes_a=sa, n_a=int(xa.size), successes_b=sb, n_b=int(xb.size))
            out.append(Comparison(
                axis=table.axis, measure=measure, group_a=group, group_b=REST, gap=rt.diff, ci_low=rt.ci_low,
                ci_high=rt.ci_high, p_value=rt.p_value, effect_size=rt.effect_size, n=int(xa.size + xb.size),
                paired=False, method=rt.method, n_a=int(xa.size), n_b=int(xb.size),
                pooled_rate=(sa + sb) / max(xa.size + xb.size, 1)))
        else:
            mt = two_sample_means(a=xa, b=xb, permutations=permutations, resamples=resamples, seed=seed + g + k)
            over = "; outputs of one prompt averaged first" if (sampled_a or sampled_b) else ""
            out.append(Comparison(
                axis=table.axis, measure=measure, group_a=group, group_b=REST, gap=mt.diff, ci_low=mt.ci_low,
                ci_high=mt.ci_high, p_value=mt.p_value, effect_size=mt.effect_size, n=int(xa.size + xb.size),
                paired=False, method=mt.method + over, n_a=int(xa.size), n_b=int(xb.size)))
    return out


def _omnibus_power(*, n: int, k: int, base: float, gap: float, alpha: float) -> float:
    from scipy import stats

    rates = np.full(k, base)
    rates[0] += gap
    mean = rates.mean()
    if not 0 < mean < 1:
        return 0.0
    noncentrality = n * float(((rates - mean) ** 2).sum()) / (mean * (1 - mean))
    critical = stats.chi2.ppf(1 - alpha, k - 1)
    return float(stats.ncx2.sf(critical, k - 1, noncentrality))


def _posthoc_power(*, n: int, k: int, base: float, gap: float, alpha: float) -> float:
    from scipy import stats

    rate_a, n_rest = base + gap, (k - 1) * n
    pooled = (rate_a * n + base * n_rest) / (n + n_rest)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n_rest))
    se1 = math.sqrt(rate_a * (1 - rate_a) / n + base * (1 - base) / n_rest)
    if se1 == 0:
        return 1.0
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.sf((z * se0 - gap) / se1))


@functools.lru_cache(maxsize=1024)  # a run asks for the same (n, k, families) once per measure
def design_mde(*, n_per_group: int, k: int, families: int, alpha: float, power: float,
               base_rate: float = 0.2) -> float | None:
    """Smallest rate gap (one group above the others at ``base_rate``) both stages find with ``power``.

    ``families`` is the number of omnibus tests α is spread over; the omnibus is taken at its worst-case
    Holm level α / families and the post-hoc at α / k. The two powers are multiplied (they are positively
    dependent, so the product understates the joint power: the figure is conservative). ``None`` when no
    gap up to ``1 − base_rate`` reaches the power.
    """
    if n_per_group < 2 or k < 2 or families < 1:
        return None
    a_omni, a_post = alpha / families, alpha / k

    def joint(gap: float) -> float:
        both = _omnibus_power(n=n_per_group, k=k, base=base_rate, gap=gap, alpha=a_omni)
        return both * _posthoc_power(n=n_per_group, k=k, base=base_rate, gap=gap, alpha=a_post)

    high = 1.0 - base_rate - 1e-9
    if joint(high) < power:
        return None
    low = 0.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if joint(mid) < power else (low, mid)
    return high


@dataclass(frozen=True, slots=True)
class DesignResult:
    """What the omnibus → post-hoc design concluded for a run."""

    omnibus: tuple[Omnibus, ...]
    posthoc: tuple[Comparison, ...]
    """Every group-vs-rest comparison, ``p_adjusted`` = Holm within its axis × measure."""
    findings: tuple[Comparison, ...]
    """Post-hoc comparisons that become findings (inside a significant axis, worse side, above threshold)."""
    mde: dict[tuple[str, str], tuple[float | None, str, int]]
    """(axis, measure) → (minimum detectable gap, how it was computed, units per group)."""
    families: int
    """Omnibus tests α is spread over."""


def _holm(p_values: Sequence[float], correction: Literal["holm", "bh"]) -> list[float]:
    from auditkit.stats import adjust_p_values

    return adjust_p_values(p_values=list(p_values), method=correction) if p_values else []


def run_design(*, tables: Sequence[AxisTable], present: Sequence[str], kinds: dict[str, Literal["mean", "rate"]],
               worse: dict[str, str], thresholds: dict[str, float], alpha: float, power: float,
               correction: Literal["holm", "bh"], test: Literal["permutation", "wilcoxon"], permutations: int,
               resamples: int, seed: int, base_rate: float, max_permutations: int) -> DesignResult:
    """Omnibus per axis × measure (corrected over the run), post-hoc group-vs-rest inside significant axes."""
    from dataclasses import replace

    from auditkit.analyzers.bias_compare import attach_mde

    omnibus = [omnibus_test(table=t, measure=m, kind=kinds[m], permutations=permutations, seed=seed + i)
               for i, (t, m) in enumerate((t, m) for t in tables for m in present)]
    families = max(sum(1 for o in omnibus if o.p_value is not None), 1)
    needed = min(max_permutations, math.ceil(20 * families / alpha))
    if needed > permutations:  # resolve p-values near the corrected level, as for pairwise comparisons
        omnibus = [refine_omnibus(omnibus=o, permutations=needed, seed=seed + 7919 + i)
                   if o.p_value is not None and o.p_value <= 2 * alpha else o for i, o in enumerate(omnibus)]
    tested = [o for o in omnibus if o.p_value is not None]
    adjusted = dict(zip((id(o) for o in tested), _holm([o.p_value for o in tested], correction)))  # type: ignore[misc]
    omnibus = [replace(o, p_adjusted=adjusted.get(id(o))) for o in omnibus]
    by_key = {(o.axis, o.measure): o for o in omnibus}
    posthoc: list[Comparison] = []
    findings: list[Comparison] = []
    mde: dict[tuple[str, str], tuple[float | None, str, int]] = {}
    for table in tables:
        k = len(table.groups)
        post_permutations = min(max_permutations, max(permutations, math.ceil(20 * k / alpha)))
        for measure in present:
            om = by_key[(table.axis, measure)]
            comps = group_vs_rest(table=table, measure=measure, kind=kinds[measure], omnibus=om, test=test,
                                  permutations=post_permutations, resamples=resamples, seed=seed)
            if not om.paired:  # paired comparisons carry their max-T adjustment already
                tested_c = [c for c in comps if c.p_value is not None]
                p_adj = dict(zip((id(c) for c in tested_c), _holm([c.p_value for c in tested_c], "holm")))  # type: ignore[misc]
                comps = [replace(c, p_adjusted=p_adj.get(id(c))) for c in comps]
            if kinds[measure] == "mean":
                comps = [attach_mde(comparison=c, kind="mean", alpha=alpha / families, power=power, fallback_sd=None,
                                    p_adjusted=c.p_adjusted) for c in comps]
                values = [c.mde for c in comps]
                worst = None if not values or any(v is None for v in values) else max(values)  # type: ignore[type-var]
                reasons = "; ".join(sorted({c.mde_note for c in comps if c.mde is None}))
                mde[(table.axis, measure)] = (worst, reasons if worst is None else (
                    f"t-test power of each group against the rest at the omnibus level α/{families} (observed "
                    "spread)"), om.n_per_group)
            else:
                value = design_mde(n_per_group=om.n_per_group, k=k, families=families, alpha=alpha, power=power,
                                   base_rate=base_rate)
                note = (f"one group above the others at a {base_rate:g} base rate; omnibus at α/{families}, "
                        f"post-hoc at α/{k}")
                if value is None:
                    note = f"too few pairs ({om.n_per_group} per group) for any gap to be detected: {note}"
                mde[(table.axis, measure)] = (value, note, om.n_per_group)
            posthoc.extend(comps)
            if om.p_adjusted is None or om.p_adjusted >= alpha:
                continue
            for c in comps:
                if c.p_adjusted is None or c.p_adjusted >= alpha or c.gap is None:
                    continue
                on_worse_side = c.gap > 0 if worse[measure] == "higher" else c.gap < 0
                if on_worse_side and abs(c.gap) >= thresholds.get(measure, 0.0):
                    findings.append(c)
    return DesignResult(omnibus=tuple(omnibus), posthoc=tuple(posthoc), findings=tuple(findings), mde=mde,
                        families=families)
