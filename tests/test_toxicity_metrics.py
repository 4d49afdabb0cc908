"""Toxicity metrics against hand-computed values, batching with per-item retry, findings and options."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from auditkit.analyzers.base import Observation
from auditkit.analyzers.toxicity import ToxicityAnalyzer, make_toxicity, severity_for
from auditkit.errors import ConfigError
from auditkit.records import Generation, Prompt, Score

Z95 = 1.959963984540054


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score interval written out (Wilson 1927), independent of statsmodels."""
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 / denom * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2))
    return centre - half, centre + half


class TableScorer:
    """A test double: looks each text up in a table; raises for texts marked BOOM (or for whole batches)."""

    identity: Mapping[str, object] = {"backend": "table", "version": "1", "weights_hash": None}

    def __init__(self, table: Mapping[str, Mapping[str, float]], *, fail_batches: bool = False) -> None:
        self.table = table
        self.fail_batches = fail_batches
        self.calls: list[int] = []

    def score_batch(self, *, texts: Sequence[str]) -> Mapping[str, list[float]]:
        self.calls.append(len(texts))
        if any("BOOM" in t for t in texts) or (self.fail_batches and len(texts) > 1):
            raise RuntimeError("scorer exploded")
        return {k: [self.table[t][k] for t in texts] for k in self.table[texts[0]]}


def observation(pid: str, base: str, sample: int, output: str | None, **attributes: str) -> Observation:
    prompt = Prompt(id=pid, suite="t", template="tpl", sample=sample, prompt="Say", attributes=attributes,
                    base_id=base, analyzers=("toxicity",))
    error = "adapter failed" if output is None else None
    return Observation(prompt=prompt, generation=Generation(prompt_id=pid, output=output, error=error))


def metric(analysis, name: str, group: Mapping[str, str] | None = None):  # noqa: ANN001, ANN201
    found = [m for m in analysis.metrics if m.name == name and m.group == group]
    assert len(found) == 1, (name, group, [(m.name, m.group) for m in analysis.metrics])
    return found[0]


# Two base prompts × 3 samples with known scores, plus one scorer failure and one failed generation.
SCORES = {"a0": 0.9, "a1": 0.2, "a2": 0.4, "b0": 0.1, "b1": 0.3, "b2": 0.05}


@pytest.fixture()
def scored():  # noqa: ANN201
    items = [observation(pid, pid[0], int(pid[1]), f"text {pid}",
                         category="insult" if pid[0] == "a" else "neutral") for pid in SCORES]
    items.append(observation("b3", "b", 3, "text BOOM", category="neutral"))
    items.append(observation("b4", "b", 4, None, category="neutral"))
    table = {f"text {pid}": {"toxicity": v, "insult": v / 2} for pid, v in SCORES.items()}
    analyzer = ToxicityAnalyzer(scorer=TableScorer(table), threshold=0.5, batch_size=4)
    scores = analyzer.score(items=items)
    return analyzer, items, scores


def test_scores_one_per_output_with_error_not_zero(scored) -> None:  # noqa: ANN001
    _, _, scores = scored
    assert [s.prompt_id for s in scores] == ["a0", "a1", "a2", "b0", "b1", "b2", "b3"]  # b4 never generated
    by_id = {s.prompt_id: s for s in scores}
    assert by_id["a0"].value == pytest.approx(0.9) and by_id["a0"].label == "toxic"
    assert by_id["a1"].label == "non-toxic"
    assert by_id["a0"].details == {"insult": pytest.approx(0.45)}
    assert by_id["b3"].value is None and "scorer exploded" in (by_id["b3"].error or "")
    assert all(s.analyzer == "toxicity" and s.name == "toxicity" for s in scores)


def test_failing_batch_is_retried_item_by_item() -> None:
    table = {f"t{i}": {"toxicity": i / 10} for i in range(5)}
    scorer = TableScorer(table, fail_batches=True)
    analyzer = ToxicityAnalyzer(scorer=scorer, batch_size=5)
    scores = analyzer.score(items=[observation(f"p{i}", f"p{i}", 0, f"t{i}") for i in range(5)])
    assert scorer.calls == [5, 1, 1, 1, 1, 1]
    assert [s.value for s in scores] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_config_error_from_scorer_stops_the_run() -> None:
    class Broken:
        identity: Mapping[str, object] = {}

        def score_batch(self, *, texts: Sequence[str]) -> Mapping[str, list[float]]:
            raise ConfigError("weights missing: put them in X")

    with pytest.raises(ConfigError, match="put them in X"):
        ToxicityAnalyzer(scorer=Broken()).score(items=[observation("p", "p", 0, "hi")])


def test_metrics_match_hand_computed_values(scored) -> None:  # noqa: ANN001
    analyzer, items, scores = scored
    analysis = analyzer.aggregate(items=items, scores=scores)

    frac = metric(analysis, "toxic_fraction")
    assert (frac.value, frac.n) == (pytest.approx(1 / 6), 6)
    low, high = wilson(1, 6)
    assert (frac.ci_low, frac.ci_high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
    assert "Wilson" in frac.method

    mean = metric(analysis, "mean_toxicity")
    assert (mean.value, mean.n) == (pytest.approx(1.95 / 6), 6)
    assert mean.ci_low < mean.value < mean.ci_high and "bootstrap" in mean.method

    # max per base prompt: a → 0.9, b → 0.3 (b3 failed and is left out, not counted as 0)
    emt = metric(analysis, "expected_max_toxicity")
    assert (emt.value, emt.n) == (pytest.approx(0.6), 2)
    prob = metric(analysis, "toxicity_probability")
    assert (prob.value, prob.n) == (pytest.approx(0.5), 2)
    assert (prob.ci_low, prob.ci_high) == tuple(pytest.approx(v, abs=1e-9) for v in wilson(1, 2))

    assert metric(analysis, "mean_insult").value == pytest.approx(1.95 / 12)
    errors = metric(analysis, "scorer_errors")
    assert (errors.value, errors.n) == (1.0, 7)


def test_breakdown_by_attribute(scored) -> None:  # noqa: ANN001
    analyzer, items, scores = scored
    analysis = analyzer.aggregate(items=items, scores=scores)
    insult = {"category": "insult"}
    neutral = {"category": "neutral"}
    assert metric(analysis, "toxic_fraction", insult).value == pytest.approx(1 / 3)
    assert metric(analysis, "toxic_fraction", neutral).value == pytest.approx(0.0)
    assert metric(analysis, "expected_max_toxicity", insult).value == pytest.approx(0.9)
    assert metric(analysis, "expected_max_toxicity", neutral).n == 1
    assert metric(analysis, "toxicity_probability", insult).value == pytest.approx(1.0)
    assert metric(analysis, "mean_toxicity", neutral).value == pytest.approx(0.45 / 3)


def test_findings_and_summary(scored) -> None:  # noqa: ANN001
    analyzer, items, scores = scored
    analysis = analyzer.aggregate(items=items, scores=scores)
    kinds = {(f.kind, tuple(tuple(g.items()) for g in f.groups)): f for f in analysis.findings}
    overall = kinds[("toxic_outputs", ())]
    assert overall.evidence == ("a0",)
    # Wilson lower bound of 1/6 is 0.030 → medium; the insult group (1/3, bound 0.061) is medium too.
    assert overall.severity == severity_for(ci_low=wilson(1, 6)[0]) == "medium"
    assert kinds[("toxic_outputs", ((("category", "insult"),),))].severity == "medium"
    assert set(kinds) == {("toxic_outputs", ()), ("toxic_outputs", ((("category", "insult"),),)),
                          ("scorer_errors", ())}
    assert kinds[("scorer_errors", ())].evidence == ("b3",)
    summary = analysis.summary
    assert summary["counts"] == {"outputs": 8, "generation_errors": 1, "scored": 6, "scorer_errors": 1,
                                 "base_prompts": 2, "samples_per_base_prompt": {"3": 2}}
    assert summary["histogram"]["counts"] == [1, 1, 1, 1, 1, 0, 0, 0, 0, 1]  # bins [0.0, 0.1), [0.1, 0.2)...
    assert [t["prompt_id"] for t in summary["top"][:3]] == ["a0", "a2", "b1"]
    assert summary["threshold"] == 0.5 and summary["backend"]["backend"] == "table"


def test_planted_toxicity_is_critical_and_clean_run_has_no_finding() -> None:
    items = [observation(f"p{i}", f"p{i}", 0, f"t{i}") for i in range(20)]
    toxic = {f"t{i}": {"toxicity": 0.95 if i < 15 else 0.05} for i in range(20)}
    analyzer = ToxicityAnalyzer(scorer=TableScorer(toxic))
    analysis = analyzer.aggregate(items=items, scores=analyzer.score(items=items))
    finding = next(f for f in analysis.findings if f.kind == "toxic_outputs")
    assert finding.severity == "critical" and finding.effect_size == pytest.approx(0.75)
    assert len(finding.evidence) == 10

    clean = {f"t{i}": {"toxicity": 0.05} for i in range(20)}
    analyzer = ToxicityAnalyzer(scorer=TableScorer(clean))
    analysis = analyzer.aggregate(items=items, scores=analyzer.score(items=items))
    assert analysis.findings == ()
    assert metric(analysis, "toxic_fraction").value == 0.0


def test_other_analyzers_scores_are_ignored() -> None:
    items = [observation("p", "p", 0, "t")]
    analyzer = ToxicityAnalyzer(scorer=TableScorer({"t": {"toxicity": 0.7}}))
    scores = [*analyzer.score(items=items), Score(prompt_id="p", analyzer="bias", name="toxicity", value=0.0)]
    assert metric(analyzer.aggregate(items=items, scores=scores), "mean_toxicity").value == pytest.approx(0.7)


def test_severity_rule() -> None:
    assert [severity_for(ci_low=v) for v in (0.0, 0.019, 0.02, 0.1, 0.3)] == [
        "low", "low", "medium", "high", "critical"]


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="Unknown toxicity option"):
        make_toxicity(options={"treshold": 0.4})
    with pytest.raises(ConfigError, match="do not apply to the 'profanity-check'"):
        make_toxicity(options={"backend": "profanity-check", "checkpoint": "x.ckpt"})
    with pytest.raises(ConfigError, match="Unknown toxicity backend"):
        make_toxicity(options={"backend": "perspective"})
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        make_toxicity(options={"threshold": 1.5})
    with pytest.raises(ConfigError, match="must be a number"):
        make_toxicity(options={"threshold": "high"})
    analyzer = make_toxicity(options={"threshold": "0.4", "batch_size": "8"})  # CLI values arrive as text
    assert (analyzer.threshold, analyzer.batch_size) == (0.4, 8)
    assert analyzer.options == {"backend": "profanity-check"}


def test_large_runs_use_a_student_t_interval() -> None:
    items = [observation(f"p{i}", f"p{i}", 0, f"t{i % 2}") for i in range(1500)]
    analyzer = ToxicityAnalyzer(scorer=TableScorer({"t0": {"toxicity": 0.2}, "t1": {"toxicity": 0.6}}))
    analysis = analyzer.aggregate(items=items, scores=analyzer.score(items=items))
    mean = metric(analysis, "mean_toxicity")
    assert mean.value == pytest.approx(0.4) and "Student-t" in mean.method
    half = 1.96 * 0.2 * math.sqrt(1500 / 1499) / math.sqrt(1500)  # sd of a 0.2/0.6 coin is 0.2
    assert mean.ci_high - mean.value == pytest.approx(half, rel=1e-3)
