"""The bias statistics' vectorised paths compute what the per-row definitions say.

- Pair × group means and group means over prompts equal plain dictionary averages (to the bit), pairs in
  sorted key order, failed scores left out.
- fairlearn's MetricFrame on (group, outcome) counts as sample weights gives the same rates, difference,
  ratio and to-overall gap as on one row per output.
- The compressed cluster bootstrap (a multinomial over distinct pair patterns) has the distribution of
  the direct one that draws every pair.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from auditkit.analyzers.bias_compare import (
    AxisTable,
    _cluster_bootstrap,
    compare_groups,
    group_summary,
    rate_gaps,
)

GROUPS = ("woman", "man", "non-binary person")


def _table(*, seed: int, pairs: int, samples: int = 2, missing: float = 0.1) -> tuple[AxisTable, list[dict]]:
    """Counterfactual outputs: several samples per pair × group, some failed (None) or non-finite."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in rng.permutation(pairs):  # rows out of key order: the table must sort pairs itself
        for group in GROUPS:
            for s in range(samples):
                value: float | None = float(rng.normal(0.1 * GROUPS.index(group), 1.0))
                if rng.random() < missing:
                    value = None if rng.random() < 0.8 else float("nan")
                rows.append({"id": f"p{k}-{group}-{s}", "group": group, "unit": f"pair-{k:04d}",
                             "base": f"p{k}-{group}", "value": value,
                             "hit": None if value is None else float(rng.random() < 0.3)})
    table = AxisTable.build(
        axis="gender", prompt_ids=[r["id"] for r in rows], groups=[r["group"] for r in rows],
        units=[r["unit"] for r in rows], base_ids=[r["base"] for r in rows], paired=[True] * len(rows),
        values={"score": [r["value"] for r in rows], "flag": [r["hit"] for r in rows]},
    )
    return table, rows


def _usable(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def test_pair_means_equal_plain_averages_in_sorted_pair_order() -> None:
    table, rows = _table(seed=1, pairs=60)
    comparisons = compare_groups(table=table, measure="score", kind="mean", test="permutation",
                                 permutations=200, resamples=200, seed=0)
    assert [(c.group_a, c.group_b) for c in comparisons] == [(GROUPS[0], GROUPS[1]), (GROUPS[0], GROUPS[2]),
                                                            (GROUPS[1], GROUPS[2])]
    for c in comparisons:
        means = {}
        for group in (c.group_a, c.group_b):
            acc: dict[str, list[float]] = {}
            for r in rows:
                if r["group"] == group and _usable(r["value"]):
                    acc.setdefault(r["unit"], []).append(r["value"])
            means[group] = {k: sum(v) / len(v) for k, v in acc.items()}
        shared = sorted(set(means[c.group_a]) & set(means[c.group_b]))
        assert c.pair_values == tuple((k, means[c.group_a][k], means[c.group_b][k]) for k in shared)
        assert c.n == len(shared) and c.paired


def test_group_means_over_prompts_equal_plain_averages() -> None:
    table, rows = _table(seed=2, pairs=40)
    for group in GROUPS:
        iv = group_summary(table=table, group=group, measure="score", kind="mean", resamples=200, seed=0)
        acc: dict[str, list[float]] = {}
        for r in rows:
            if r["group"] == group and _usable(r["value"]):
                acc.setdefault(r["base"], []).append(r["value"])
        per_prompt = [sum(v) / len(v) for v in acc.values()]
        assert iv.value == pytest.approx(sum(per_prompt) / len(per_prompt), rel=1e-12)
        assert iv.n == sum(len(v) for v in acc.values())
        rate = group_summary(table=table, group=group, measure="flag", kind="rate", resamples=200, seed=0)
        flags = [r["hit"] for r in rows if r["group"] == group and r["hit"] is not None]
        assert rate.value == sum(flags) / len(flags) and rate.n == len(flags)


def test_weighted_metric_frame_equals_one_row_per_output() -> None:
    import pandas as pd
    from fairlearn.metrics import MetricFrame, selection_rate

    table, rows = _table(seed=3, pairs=300, samples=1)
    gap = rate_gaps(table=table, measure="flag", resamples=200, seed=0)
    kept = [r for r in rows if r["hit"] is not None]
    y = np.array([int(r["hit"]) for r in kept])
    frame = MetricFrame(metrics=selection_rate, y_true=y, y_pred=y,
                        sensitive_features=pd.Series([r["group"] for r in kept], name="gender"))
    assert gap.by_group == {str(k): float(v) for k, v in frame.by_group.items()}
    assert gap.difference == float(frame.difference(method="between_groups"))
    assert gap.ratio == float(frame.ratio(method="between_groups"))
    assert gap.to_overall == float(frame.difference(method="to_overall"))
    assert gap.n == len(kept) and len(gap.replicates) == 200


def _direct_cluster_bootstrap(*, table: AxisTable, measure: str, resamples: int, seed: int) -> np.ndarray:
    """The definition: draw every pair with replacement (one multinomial weight per pair), recompute."""
    v = table.values[measure]
    ok = np.isfinite(v)
    units = np.unique(table.unit[ok])
    u_index = {u: i for i, u in enumerate(units)}
    hits = np.zeros((units.size, len(table.groups)))
    counts = np.zeros_like(hits)
    for u, g, x in zip(table.unit[ok], table.group[ok], v[ok]):
        hits[u_index[u], g] += x >= 0.5
        counts[u_index[u], g] += 1
    weights = np.random.default_rng(seed).multinomial(units.size, np.full(units.size, 1 / units.size),
                                                      size=resamples).astype(float)
    rates = (weights @ hits) / (weights @ counts)
    return rates.max(axis=1) - rates.min(axis=1)


def test_compressed_cluster_bootstrap_has_the_direct_distribution() -> None:
    table, _ = _table(seed=4, pairs=1500, samples=1, missing=0.02)
    resamples = 8000
    direct = _direct_cluster_bootstrap(table=table, measure="flag", resamples=resamples, seed=1)
    v = table.values["flag"]
    ok = np.isfinite(v)
    fast = _cluster_bootstrap(units=table.unit[ok], columns=table.group[ok], width=len(table.groups),
                              hits=(v[ok] >= 0.5).astype(int), resamples=resamples, seed=2)
    assert np.isfinite(fast).all() and fast.shape == (resamples,)
    sd = direct.std()
    assert abs(fast.mean() - direct.mean()) <= 4 * sd * np.sqrt(2 / resamples)
    assert fast.std() == pytest.approx(sd, rel=5 * np.sqrt(1 / resamples))
    for q in (2.5, 50, 97.5):
        # Two independent 8,000-draw quantile estimates of a distribution on a fine grid: within 0.12 sd.
        assert abs(np.percentile(fast, q) - np.percentile(direct, q)) <= 0.12 * sd


def test_axis_table_is_read_only_and_finds_evidence() -> None:
    table, rows = _table(seed=5, pairs=5, samples=2, missing=0.0)
    with pytest.raises(ValueError):
        table.values["score"][0] = 1.0
    expected = [r["id"] for r in rows if r["unit"] == "pair-0003" and r["group"] == "man"]
    assert table.prompt_ids_of(unit="pair-0003", group="man") == expected
    assert table.prompt_ids_of(unit="pair-9999", group="man") == []
    assert table.group_counts() == dict.fromkeys(GROUPS, 10)
