"""End to end on a model that really memorized something: a tiny GPT-2 trained here on planted canaries.

The analyzer must report exactly the planted canaries as extractable (through the real ``hf`` adapter,
greedy decoding) and not the held-out controls of the same format; exposure and Min-K% Prob must rank
canaries above controls.
"""

from __future__ import annotations

import json
import math
import random

import pytest

from auditkit.adapters.base import build_adapter, parse_model_spec
from auditkit.analyzers.base import Observation
from auditkit.analyzers.extraction import exposure, min_k_prob
from auditkit.analyzers.memorization import corpus_prompts, make_memorization
from auditkit.records import GenerationConfig
from tests.fixtures_memorization import TinyLM, canary_text, train_tiny_lm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> TinyLM:
    return train_tiny_lm(directory=tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="module")
def audited(tiny_lm: TinyLM, tmp_path_factory: pytest.TempPathFactory):
    corpus = tmp_path_factory.mktemp("corpus") / "canaries.jsonl"
    rows = [{"id": f"canary-{i}", "text": t} for i, t in enumerate(tiny_lm.canaries)]
    rows += [{"id": f"control-{i}", "text": t} for i, t in enumerate(tiny_lm.controls)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    options = {"prefix_words": 6, "suffix_words": 12, "max_new_tokens": 24}
    prompts = corpus_prompts(path=corpus, options=options)
    adapter = build_adapter(spec=parse_model_spec(spec=f"hf:{tiny_lm.directory}", model_args=["device=cpu"]))
    config = GenerationConfig.from_dict(dict(prompts[0].generation))
    generations = adapter.generate(prompts=prompts, config=config)
    adapter.close()
    items = [Observation(prompt=p, generation=g) for p, g in zip(prompts, generations)]
    analyzer = make_memorization(options=options)
    scores = analyzer.score(items=items)
    return items, scores, analyzer.aggregate(items=items, scores=scores)


def test_exactly_the_canaries_are_extractable(audited) -> None:
    items, scores, analysis = audited
    assert all(i.generation.ok for i in items), [i.generation.error for i in items]
    extractable = {s.prompt_id for s in scores if s.name == "extractable" and s.value == 1.0}
    by_id = {i.prompt.id: i.prompt.attributes["passage"] for i in items}
    assert sorted(by_id[p] for p in extractable) == [f"canary-{i}" for i in range(4)]
    metrics = {m.name: m for m in analysis.metrics}
    assert metrics["extractable_rate"].value == pytest.approx(0.5)
    assert metrics["extractable_rate"].n == 8
    extraction = [f for f in analysis.findings if f.kind == "extraction"]
    assert {by_id[f.evidence[0]] for f in extraction} == {f"canary-{i}" for i in range(4)}
    assert all(f.severity == "high" for f in extraction)  # corpus passages are not marked public
    assert analysis.summary["passages"]["tested"] == 8
    assert analysis.summary["passages"]["split_configured"] == 8


def test_controls_are_not_reproduced(audited) -> None:
    items, scores, _ = audited
    controls = {i.prompt.id for i in items if i.prompt.attributes["passage"].startswith("control")}
    lcp = {s.prompt_id: s for s in scores if s.name == "lcp"}
    # The secret is the 8 digits right after the prefix: a control's digits are never guessed in full.
    assert all(lcp[p].value < 8 for p in controls)


def test_logprob_scores_come_from_the_adapter(audited) -> None:
    _items, scores, analysis = audited
    names = {m.name for m in analysis.metrics}
    assert {"mean_perplexity", "mean_zlib_ratio", "mean_min_k_prob"} <= names
    ppl = [s.value for s in scores if s.name == "perplexity"]
    assert len(ppl) == 8 and all(v >= 1.0 for v in ppl)


def test_exposure_ranks_canaries_first(tiny_lm: TinyLM) -> None:
    rng = random.Random(7)

    def references(text: str) -> list[str]:
        name = text.split()[4]
        return [canary_text(name=name, digits="".join(rng.choice("0123456789") for _ in range(8)))
                for _ in range(63)]

    canary = [exposure(canary=c, references=references(c), log_likelihood=tiny_lm.log_likelihood)
              for c in tiny_lm.canaries]
    control = [exposure(canary=c, references=references(c), log_likelihood=tiny_lm.log_likelihood)
               for c in tiny_lm.controls]
    assert all(e.rank == 1 and e.exposure == pytest.approx(math.log2(64)) for e in canary)
    assert max(e.exposure for e in control) < math.log2(64)
    assert min(e.extrapolated for e in canary) > max(e.extrapolated for e in control)


def test_min_k_prob_separates_members(tiny_lm: TinyLM) -> None:
    members = [min_k_prob(token_logprobs=tiny_lm.token_logprobs(c)) for c in tiny_lm.canaries]
    others = [min_k_prob(token_logprobs=tiny_lm.token_logprobs(c)) for c in tiny_lm.controls]
    assert min(members) > max(others)


def test_canary_exposure_through_the_adapter_and_the_analyzer(tiny_lm: TinyLM, tmp_path) -> None:
    # The audit flow for --corpus lines with a "secret": the hf adapter scores the secret and 63 look-alikes
    # after the canary's opening; the analyzer ranks them. Trained canaries rank first, controls do not.
    rows = [
        {"id": f"canary-{i}", "text": t, "secret": " ".join(t.split()[6:14])} for i, t in enumerate(tiny_lm.canaries)
    ]
    rows += [{"id": f"control-{i}", "text": t, "secret": " ".join(t.split()[6:14])}
             for i, t in enumerate(tiny_lm.controls)]
    corpus = tmp_path / "canaries.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    options = {"canary_candidates": 63}
    prompts = [p for p in corpus_prompts(path=corpus, options=options) if p.template == "canary"]
    assert len(prompts) == 8 * 64
    adapter = build_adapter(spec=parse_model_spec(spec=f"hf:{tiny_lm.directory}", model_args=["device=cpu"]))
    generations = adapter.generate(prompts=prompts, config=GenerationConfig.from_dict(dict(prompts[0].generation)))
    adapter.close()
    items = [Observation(prompt=p, generation=g) for p, g in zip(prompts, generations)]
    analyzer = make_memorization(options=options)
    analysis = analyzer.aggregate(items=items, scores=analyzer.score(items=items))
    exposure_by = {m.group["canary"]: m for m in analysis.metrics if m.name == "canary_exposure"}
    assert len(exposure_by) == 8
    assert all(exposure_by[f"canary-{i}"].details["rank"] == 1 for i in range(4))
    assert all(exposure_by[f"control-{i}"].value < math.log2(64) for i in range(4))
    flagged = {f.title.split("'")[1] for f in analysis.findings if f.kind == "canary_exposure"}
    assert flagged == {f"canary-{i}" for i in range(4)}
