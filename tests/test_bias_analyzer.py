"""End-to-end bias analyzer on simulated observations: planted gaps are found, null runs stay quiet."""

from __future__ import annotations

from typing import Any

import pytest

from auditkit.analyzers.base import Analysis, Observation, build_analyzer
from auditkit.errors import ConfigError
from auditkit.records import Generation, Prompt, Score
from tests.fixtures_bias import simulate, toxicity_scores

FAST = {"permutations": 1000, "resamples": 500}


def run(items: list[Observation], extra: list[Score] | None = None, **options: object) -> Analysis:
    analyzer = build_analyzer(name="bias", options={**FAST, **options})
    scores = analyzer.score(items=items) + list(extra or [])
    return analyzer.aggregate(items=items, scores=scores)


def gap_findings(analysis: Analysis) -> list[Any]:
    return [f for f in analysis.findings if f.kind == "group_gap"]


def test_planted_negative_sentiment_is_found_for_the_right_group() -> None:
    items = simulate(seed=1, negative_share={"woman": 0.75, "man": 0.1, "non-binary person": 0.1})
    analysis = run(items)
    sentiment = [f for f in gap_findings(analysis) if f.details["measure"] == "sentiment"]
    assert sentiment, [f.title for f in analysis.findings]
    top = sentiment[0]
    assert top.groups[0] == {"axis": "gender", "group": "woman"} and top.groups[1]["group"] == "rest"
    assert top.kind == "group_gap" and top.p_value is not None and top.p_value < 0.05
    assert top.effect_size is not None and top.effect_size <= -0.1
    assert top.details["ci_high"] < 0 and top.details["p_raw"] <= top.p_value
    assert top.details["omnibus_p_adjusted"] < 0.05 and top.details["compared_with"] == ["man", "non-binary person"]
    assert "Outputs about 'woman' are more negative than about the other gender groups" in top.title
    assert "after max-T adjustment within gender" in top.title and "omnibus" in top.title
    # Evidence: prompt ids from both sides of the most divergent pairs, with the paired values.
    assert any("woman" in e for e in top.evidence) and any("woman" not in e for e in top.evidence)
    pair = top.details["pairs"][0]
    assert pair["woman"]["value"] < pair["rest"]["value"]
    # No finding names man or non-binary person: they were simulated alike.
    assert all(f.groups[0]["group"] == "woman" for f in gap_findings(analysis))


def test_pairwise_design_keeps_the_earlier_behaviour() -> None:
    items = simulate(seed=1, negative_share={"woman": 0.75, "man": 0.1, "non-binary person": 0.1})
    analysis = run(items, design="pairwise")
    top = next(f for f in gap_findings(analysis) if f.details["measure"] == "sentiment")
    assert "Outputs about 'woman' are more negative than about" in top.title and "after Holm" in top.title
    assert top.groups[1]["group"] in {"man", "non-binary person"}
    assert analysis.summary["design"] == "pairwise" and "omnibus" not in analysis.summary["axes"]["gender"]


def test_null_run_has_no_finding_and_states_the_detectable_gap() -> None:
    items = simulate(seed=2, negative_share={"woman": 0.2, "man": 0.2, "non-binary person": 0.2})
    analysis = run(items)
    assert gap_findings(analysis) == []
    statements = analysis.summary["statements"]
    assert any(s.startswith("No sentiment finding on gender: this audit could have detected a gap of")
               for s in statements)
    mde = next(m for m in analysis.metrics if m.name == "mde" and m.group == {"axis": "gender", "measure": "sentiment"})
    assert mde.value is not None and 0 < mde.value < 2


@pytest.mark.slow
def test_false_finding_rate_over_seeds_stays_low() -> None:
    runs = 12
    with_finding = sum(
        bool(gap_findings(run(simulate(seed=100 + s, negative_share={}, pairs=30), permutations=500, resamples=200)))
        for s in range(runs)
    )
    # Holm keeps the familywise rate at 5%; 12 runs allow at most 2 by chance (binomial tail < 2%).
    assert with_finding <= 2


def test_per_group_metrics_have_intervals() -> None:
    items = simulate(seed=3, negative_share={"woman": 0.5})
    analysis = run(items)
    means = {m.group["group"]: m for m in analysis.metrics if m.name == "sentiment_mean"}  # type: ignore[index]
    assert set(means) == {"woman", "man", "non-binary person"}
    for metric in means.values():
        assert metric.ci_low <= metric.value <= metric.ci_high and metric.n == 40  # type: ignore[operator]
    rates = [m for m in analysis.metrics if m.name == "negative_sentiment_rate"]
    assert len(rates) == 3 and all(m.method.startswith("proportion, Wilson") for m in rates)
    gaps = [m for m in analysis.metrics if m.name == "gap" and m.group["measure"] == "sentiment"]  # type: ignore[index]
    assert len(gaps) == 3 and all("p_adjusted" in m.details for m in gaps)
    table = analysis.summary["axes"]["gender"]
    assert [row["group"] for row in table["groups"]] == ["woman", "man", "non-binary person"]
    assert all({"p_raw", "p_adjusted", "gap", "ci_low", "ci_high", "mde"} <= set(c) for c in table["comparisons"])


def test_max_gap_is_the_fairlearn_rate_difference() -> None:
    items = simulate(seed=4, negative_share={"woman": 0.6, "man": 0.1, "non-binary person": 0.2})
    analysis = run(items)
    max_gap = next(m for m in analysis.metrics if m.name == "max_gap" and m.group == {"axis": "gender"})
    rates = {m.group["group"]: m.value for m in analysis.metrics if m.name == "negative_sentiment_rate"}  # type: ignore[index]
    assert max_gap.details["measure"] == "negative_sentiment"
    assert max_gap.value == pytest.approx(max(rates.values()) - min(rates.values()))
    assert max_gap.ci_low <= max_gap.value <= max_gap.ci_high  # type: ignore[operator]
    ratio = next(m for m in analysis.metrics if m.name == "rate_ratio" and m.group["measure"] == "negative_sentiment")  # type: ignore[index]
    assert ratio.value == pytest.approx(min(rates.values()) / max(rates.values()))


def test_toxicity_scores_from_the_toxicity_analyzer_are_used() -> None:
    items = simulate(seed=5, negative_share={})
    analysis = run(items, extra=toxicity_scores(items=items, toxic_group="man", seed=5))
    toxic = [f for f in gap_findings(analysis) if f.details["measure"] in {"toxic", "toxicity"}]
    assert toxic and all(f.groups[0]["group"] == "man" for f in toxic)
    assert any(m.name == "toxic_rate" for m in analysis.metrics)
    # Without toxicity scores the measures are skipped, and the summary says so.
    quiet = run(items)
    assert not any(m.name.startswith("toxic") for m in quiet.metrics)
    assert any("toxicity" in note for note in quiet.summary["notes"])


def test_practical_threshold_suppresses_small_significant_gaps() -> None:
    items = simulate(seed=1, negative_share={"woman": 0.75, "man": 0.1, "non-binary person": 0.1})
    strict = run(items, practical_threshold={"sentiment": 5.0, "negative_sentiment": 2.0})
    assert not any(f.details["measure"] in {"sentiment", "negative_sentiment"} for f in gap_findings(strict))


def test_bh_correction_and_wilcoxon_options() -> None:
    items = simulate(seed=1, negative_share={"woman": 0.75, "man": 0.1, "non-binary person": 0.1})
    analysis = run(items, correction="bh", test="wilcoxon")
    assert any("Benjamini–Hochberg" in f.title for f in gap_findings(analysis))
    assert analysis.summary["correction"] == "bh"


def test_failed_generations_are_counted_not_scored() -> None:
    items = simulate(seed=6, negative_share={}, pairs=5)
    broken = Observation(prompt=items[0].prompt, generation=Generation(prompt_id=items[0].prompt.id, output=None,
                                                                       error="timeout"))
    analyzer = build_analyzer(name="bias", options=FAST)
    scores = analyzer.score(items=[broken, *items[1:]])
    assert all(s.prompt_id != broken.prompt.id for s in scores)
    analysis = analyzer.aggregate(items=[broken, *items[1:]], scores=scores)
    assert analysis.summary["failed_generations"] == 1


def test_too_few_pairs_says_nothing_was_detectable() -> None:
    items = simulate(seed=7, negative_share={}, pairs=4)
    analysis = run(items)
    mde = next(m for m in analysis.metrics if m.name == "mde" and m.group["measure"] == "sentiment")  # type: ignore[index]
    assert mde.value is None and "too few pairs" in " ".join(mde.details["reasons"])
    assert any("could not have detected" in s for s in analysis.summary["statements"])


def test_unpaired_prompts_use_unpaired_tests() -> None:
    items = [
        Observation(prompt=Prompt(id=i.prompt.id, suite="bias", template="t", prompt=i.prompt.prompt,
                                  attributes=i.prompt.attributes, base_id=i.prompt.id),
                    generation=i.generation)
        for i in simulate(seed=8, negative_share={"woman": 0.8, "man": 0.05}, groups=("woman", "man"), pairs=60)
    ]
    analysis = run(items)
    comparisons = analysis.summary["axes"]["gender"]["comparisons"]
    assert comparisons and not any(c["paired"] for c in comparisons)
    assert any(f.groups[0]["group"] == "woman" for f in gap_findings(analysis))


@pytest.mark.parametrize(
    "options",
    [{"correction": "bonferroni"}, {"alpha": 2}, {"measures": ["regard"]}, {"colour": "red"},
     {"practical_threshold": 0.1}, {"classifier": {"path": "/nonexistent"}}],
)
def test_bad_options_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_analyzer(name="bias", options=options)


def test_results_are_deterministic() -> None:
    items = simulate(seed=9, negative_share={"woman": 0.5})
    first, second = run(items), run(items)
    assert [m.to_dict() for m in first.metrics] == [m.to_dict() for m in second.metrics]


def test_summary_and_metrics_are_strict_json() -> None:
    import json

    items = simulate(seed=10, negative_share={"woman": 0.6}, pairs=12)
    analysis = run(items, extra=toxicity_scores(items=items, toxic_group="man", seed=1))
    json.dumps(analysis.summary, allow_nan=False)
    json.dumps([m.to_dict() for m in analysis.metrics], allow_nan=False)
    json.dumps([f.to_dict() for f in analysis.findings], allow_nan=False)
