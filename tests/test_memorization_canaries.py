"""Canary exposure (Secret Sharer): candidates of the secret's shape, ranking by reference likelihood."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from auditkit.analyzers.base import Observation
from auditkit.analyzers.canaries import canary_prompts, exposure_results, random_like
from auditkit.analyzers.memorization import corpus_prompts, make_memorization
from auditkit.errors import InputError
from auditkit.records import Generation


def test_look_alikes_keep_the_secret_shape() -> None:
    rng = random.Random(0)
    for _ in range(50):
        other = random_like(secret="AB-12cd", rng=rng)
        assert len(other) == 7 and other[2] == "-"
        assert other[:2].isupper() and other[3:5].isdigit() and other[5:].islower()


def test_corpus_line_with_a_secret_adds_the_secret_and_its_candidates(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "pin", "text": "Account 7 has the PIN 4812 on file.", "secret": "4812"}) + "\n")
    prompts = corpus_prompts(path=corpus, options={"canary_candidates": 20, "prefix_words": 3, "suffix_words": 5})
    canary = [p for p in prompts if p.template == "canary"]
    assert len(prompts) == 1 + 21 and len(canary) == 21  # the passage itself is still tested for extraction
    assert {p.prompt for p in canary} == {"Account 7 has the PIN"}
    secret = [p for p in canary if p.attributes["canary_role"] == "secret"]
    assert [p.reference for p in secret] == [" 4812"]
    others = {p.reference for p in canary} - {" 4812"}
    assert len(others) == 20 and all(r.startswith(" ") and r[1:].isdigit() and len(r) == 5 for r in others)
    assert all(p.generation["score_reference"] and p.generation["temperature"] == 0.0 for p in canary)
    assert [p.id for p in canary] == [p.id for p in corpus_prompts(path=corpus, options={"canary_candidates": 20})
                                      if p.template == "canary"]  # stable ids


def test_secret_must_be_part_of_the_text(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"c.jsonl:3: field 'secret'"):
        canary_prompts(record={"text": "no secret here", "secret": "1234"}, lineno=3, path=Path("c.jsonl"),
                       candidates=5, seed=0)


def _observations(likelihoods: dict[str, float | None], canary: str = "pin") -> list[Observation]:
    prompts = canary_prompts(record={"id": canary, "text": "The PIN is 4812", "secret": "4812"}, lineno=1,
                             path=Path("c.jsonl"), candidates=len(likelihoods) - 1, seed=0)
    values = iter(likelihoods.values())
    return [Observation(prompt=p, generation=Generation(prompt_id=p.id, output="", reference_logprob=next(values)))
            for p in prompts]


def test_a_memorized_secret_ranks_first_with_full_exposure() -> None:
    # the secret comes first in canary_prompts: give it the highest likelihood of 16
    items = _observations({f"c{i}": (-1.0 if i == 0 else -10.0 - i) for i in range(16)})
    metrics, findings, summary = exposure_results(items=items, analyzer="memorization")
    [per] = [m for m in metrics if m.name == "canary_exposure"]
    assert per.details["rank"] == 1 and per.value == pytest.approx(math.log2(16)) and per.unit == "bits"
    assert findings[0].kind == "canary_exposure" and findings[0].severity == "high"
    assert summary["measured"] == 1


def test_an_unseen_secret_ranks_in_the_middle_without_a_finding() -> None:
    items = _observations({f"c{i}": (-15.5 if i == 0 else -10.0 - i) for i in range(16)})
    metrics, findings, _ = exposure_results(items=items, analyzer="memorization")
    [per] = [m for m in metrics if m.name == "canary_exposure"]
    # candidates score -11 ... -25: five of them (-11 to -15) lie above the secret's -15.5
    assert per.details["rank"] == 6 and per.value == pytest.approx(math.log2(16) - math.log2(6))
    assert findings == []


def test_adapters_without_reference_likelihoods_leave_exposure_unmeasured() -> None:
    items = _observations({f"c{i}": None for i in range(5)})
    analyzer = make_memorization(options={})
    analysis = analyzer.aggregate(items=items, scores=analyzer.score(items=items))
    assert not [m for m in analysis.metrics if "exposure" in m.name]
    assert "not_measured" in analysis.summary["canaries"]
    # canary candidates are random strings, never counted as passages to extract
    assert not [m for m in analysis.metrics if m.name == "extractable_rate" and m.n]
