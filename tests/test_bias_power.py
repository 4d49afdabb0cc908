"""Power and false findings of the bias design, on simulated replays of the full suite's shape.

The planted gaps are in *negative regard written calmly* (demeaning roles, stereotypes stated plainly;
see tests/fixtures_regard.py), scored by the default offline measures — the regard scorer included — so
these tests check the whole chain the issue asks for: a gap a sentiment lexicon cannot see is found,
naming the right group, with the design's documented power, and a run with no gap stays quiet.
"""

from __future__ import annotations

import functools

import pytest

from auditkit.analyzers.base import Analysis, build_analyzer
from auditkit.analyzers.bias_design import design_mde
from tests.fixtures_regard import FULL_SUITE_AXES, FULL_SUITE_PAIRS, ScoredPool, score_pool, simulate_suite

# Fewer resamples than the defaults: the tests need the decisions, not tight intervals, and must run fast.
# The design's decisions (omnibus and post-hoc) use their own within-pair permutations whatever `test`
# says; `test` only picks the test of the descriptive pairwise `gap` metrics, where Wilcoxon is the fast one.
OPTIONS = {"permutations": 1000, "resamples": 100, "test": "wilcoxon"}
SEEDS = range(10)


@functools.lru_cache(maxsize=1)
def pool() -> ScoredPool:
    return score_pool(options=OPTIONS)


def audit(*, seed: int, rates: dict[str, float], base_rate: float) -> Analysis:
    items, scores = simulate_suite(seed=seed, pool=pool(), rates=rates, base_rate=base_rate)
    return build_analyzer(name="bias", options=OPTIONS).aggregate(items=items, scores=scores)


def regard_findings(analysis: Analysis) -> list[str]:
    return [f.groups[0]["group"] for f in analysis.findings
            if f.kind == "group_gap" and f.details["measure"] == "regard_negative"]


def test_the_pool_is_scored_as_written() -> None:
    """Every calm negative continuation carries negative regard and no other does; sentiment misses most."""
    scored = pool().scores
    regard = {key: next(s for s in v if s.name == "regard_negative") for key, v in scored.items()}
    assert all(regard[key].value == 1.0 for key in regard if key[1])
    assert all(regard[key].value == 0.0 for key in regard if not key[1])
    sentiment = {key: next(s for s in v if s.name == "negative_sentiment") for key, v in scored.items()}
    assert sum(sentiment[key].value == 1.0 for key in sentiment if key[1]) <= len(sentiment) // 4


def test_the_full_suite_is_sized_for_a_gap_of_0_2() -> None:
    """The documented power: every axis of the full suite detects 0.20 at a 0.2 base rate (49 omnibus tests)."""
    for groups in FULL_SUITE_AXES.values():
        mde = design_mde(n_per_group=FULL_SUITE_PAIRS, k=len(groups), families=7 * 7, alpha=0.05, power=0.8)
        assert mde is not None and mde <= 0.20


@pytest.mark.slow  # ten simulated full-suite audits (~5,300 outputs each): about a minute
def test_planted_gap_of_0_4_is_found_naming_the_group_in_every_seed() -> None:
    # One group negative half the time, every other group a tenth of the time (the example).
    # Other groups may be named only at the design's familywise error rate (a seed can draw a real gap
    # by chance: seed 5 gives 'woman' 32 negative outputs of 160 where 16 are expected, p = 1e-4).
    false_named = 0
    for seed in SEEDS:
        analysis = audit(seed=seed, rates={"Muslim person": 0.5}, base_rate=0.1)
        named = regard_findings(analysis)
        assert "Muslim person" in named, (seed, [f.title for f in analysis.findings])
        false_named += named != ["Muslim person"]
        mde = next(m for m in analysis.metrics if m.name == "mde"
                   and m.group == {"axis": "religion", "measure": "regard_negative"})
        assert mde.value is not None and mde.value <= 0.20
    assert false_named <= 1


@pytest.mark.slow  # ten simulated full-suite audits
def test_no_gap_gives_a_bias_finding_in_at_most_one_of_ten_seeds() -> None:
    with_finding = 0
    for seed in SEEDS:
        analysis = audit(seed=100 + seed, rates={}, base_rate=0.2)
        with_finding += any(f.kind == "group_gap" for f in analysis.findings)
    assert with_finding <= 1


@pytest.mark.slow  # ten simulated full-suite audits
def test_planted_gap_of_0_2_is_found_at_the_documented_power() -> None:
    # 0.4 against 0.2 on the three-group axis, the hardest one (its MDE is the largest).
    hits = 0
    for seed in SEEDS:
        analysis = audit(seed=200 + seed, rates={"older person": 0.4}, base_rate=0.2)
        named = regard_findings(analysis)
        assert set(named) <= {"older person"}, named  # never the wrong group
        hits += named == ["older person"]
    # The design's power at this gap is at least 80%; 10 seeds find it at least 6 times unless the power
    # were below 80% (binomial: P(≤ 5 of 10 | 0.8) = 3%).
    assert hits >= 6, hits


def test_one_planted_gap_is_found_by_regard_and_the_rest_stays_quiet() -> None:
    """The fast version of the seed loops: one audit with the 0.4 gap, one without."""
    planted = audit(seed=7, rates={"Muslim person": 0.5}, base_rate=0.1)
    assert regard_findings(planted) == ["Muslim person"]
    assert all(f.groups[0]["group"] == "Muslim person" for f in planted.findings if f.kind == "group_gap")
    assert not any(f.kind == "group_gap" for f in audit(seed=8, rates={}, base_rate=0.1).findings)
