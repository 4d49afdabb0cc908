"""Real scorers: alt-profanity-check (shipped model), Detoxify on a locally trained tiny checkpoint through
Detoxify's own loading code, and a local Hugging Face classifier; plus the errors that stop a run."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from auditkit.analyzers.base import Observation
from auditkit.analyzers.toxicity import make_toxicity
from auditkit.adapters.weights import files_hash
from auditkit.analyzers.toxicity_backends import HFClassifierScorer, ToxicityScorer
from auditkit.errors import ConfigError
from auditkit.records import Generation, Prompt
from tests.fixtures_detoxify import TinyDetoxify, tiny_detoxify  # noqa: F401

INSULT = "you are a stupid idiot"
FRIENDLY = "thank you so much for your help"


def observations(*texts: str) -> list[Observation]:
    return [
        Observation(
            prompt=Prompt(id=f"p{i}", suite="t", template="t", prompt="x", base_id=f"p{i}"),
            generation=Generation(prompt_id=f"p{i}", output=text),
        )
        for i, text in enumerate(texts)
    ]


def test_profanity_check_scores_offline() -> None:
    analyzer = make_toxicity(options={"backend": "profanity-check"})
    assert isinstance(analyzer.scorer, ToxicityScorer)
    scores = analyzer.score(items=observations("fuck off, you piece of shit", "Have a lovely day at the park."))
    assert scores[0].value > 0.9 and scores[0].label == "toxic"
    assert scores[1].value < 0.2 and scores[1].label == "non-toxic"
    identity = analyzer.identity
    assert identity["backend"] == "profanity-check"
    assert identity["version"] == importlib.metadata.version("alt-profanity-check")
    assert identity["weights_hash"].startswith("sha256:") and len(identity["weights_hash"]) == 71
    assert identity["threshold"] == 0.5


@pytest.mark.slow  # imports torch + transformers and trains the tiny model (~5-25 s)
def test_detoxify_own_loader_scores_tiny_checkpoint(tiny_detoxify: TinyDetoxify) -> None:  # noqa: F811
    from detoxify import Detoxify

    model = Detoxify(checkpoint=str(tiny_detoxify.checkpoint),
                     huggingface_config_path=str(tiny_detoxify.config_dir))
    result = model.predict([INSULT, FRIENDLY])
    assert result["toxicity"][0] > 0.8 > 0.2 > result["toxicity"][1]
    assert result["insult"][0] > 0.8  # Detoxify renamed the checkpoint's "toxic" class to "toxicity"


@pytest.mark.slow  # imports torch + transformers and trains the tiny model (~5-25 s)
def test_detoxify_backend(tiny_detoxify: TinyDetoxify) -> None:  # noqa: F811
    analyzer = make_toxicity(options={
        "backend": "detoxify",
        "checkpoint": str(tiny_detoxify.checkpoint),
        "huggingface_config_path": str(tiny_detoxify.config_dir),
        "batch_size": 2,
    })
    scores = analyzer.score(items=observations(INSULT, FRIENDLY, "shut up you worthless moron"))
    assert scores[0].value - scores[1].value > 0.5
    assert [s.label for s in scores] == ["toxic", "non-toxic", "toxic"]
    assert set(scores[0].details) == {"severe_toxicity", "obscene", "threat", "insult", "identity_attack"}
    identity = analyzer.identity
    assert identity["backend"] == "detoxify" and identity["version"] == importlib.metadata.version("detoxify")
    assert identity["weights_hash"] == files_hash(files=[tiny_detoxify.checkpoint])
    assert identity["classes"][0] == "toxicity"
    analysis = analyzer.aggregate(items=observations(INSULT, FRIENDLY, "shut up you worthless moron"),
                                  scores=scores)
    assert {m.name for m in analysis.metrics} >= {"mean_insult", "mean_threat", "toxic_fraction"}


def test_detoxify_missing_weights_stop_with_instructions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import detoxify.detoxify

    with pytest.raises(ConfigError, match="does not exist.*checkpoint=PATH"):
        make_toxicity(options={"backend": "detoxify", "checkpoint": str(tmp_path / "missing.ckpt")})
    with pytest.raises(ConfigError, match="Unknown Detoxify model_type"):
        make_toxicity(options={"backend": "detoxify", "model_type": "huge"})

    # Default weights through Detoxify's real download path, pointed at a closed local port so the test
    # fails the same way with or without internet (and never downloads 400 MB).
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, "original", "http://127.0.0.1:9/toxic_original.ckpt")
    analyzer = make_toxicity(options={"backend": "detoxify"})  # loading is lazy: nothing fails yet
    with pytest.raises(ConfigError) as caught:
        analyzer.score(items=observations("hello"))
    message = str(caught.value)
    assert "could not load the default 'original' weights" in message
    assert "hub/checkpoints" in message and "huggingface_config_path=DIR" in message
    assert "bert-base-uncased" in message and "backend=profanity-check" in message


@pytest.mark.slow  # imports torch + transformers and trains the tiny model (~5-25 s)
def test_hf_classifier_backend(tiny_detoxify: TinyDetoxify) -> None:  # noqa: F811
    analyzer = make_toxicity(options={"backend": "hf-classifier", "model": str(tiny_detoxify.hf_model_dir)})
    scores = analyzer.score(items=observations(INSULT, FRIENDLY))
    assert scores[0].value > 0.8 > 0.2 > scores[1].value
    assert scores[0].details["label:insult"] > 0.8
    identity = analyzer.identity
    assert identity["label"] == "toxic" and identity["activation"] == "sigmoid"
    assert identity["weights_hash"].startswith("sha256:")

    by_insult = make_toxicity(options={"backend": "hf-classifier", "model": str(tiny_detoxify.hf_model_dir),
                                       "label": "threat"})
    threat = by_insult.score(items=observations(INSULT))[0].value
    assert threat == pytest.approx(scores[0].details["label:threat"], abs=1e-5)

    wrong = make_toxicity(options={"backend": "hf-classifier", "model": str(tiny_detoxify.hf_model_dir),
                                   "label": "spam"})
    with pytest.raises(ConfigError, match=r"labels are \['toxic', 'severe_toxic'"):
        wrong.score(items=observations(INSULT))


def test_hf_classifier_setup_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        make_toxicity(options={"backend": "hf-classifier"})
    with pytest.raises(ConfigError, match="does not exist"):
        make_toxicity(options={"backend": "hf-classifier", "model": str(tmp_path / "nope")})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="Could not load the text-classification model"):
        make_toxicity(options={"backend": "hf-classifier", "model": str(empty)}).score(items=observations("x"))


def test_hf_classifier_label_heuristics() -> None:
    scorer = HFClassifierScorer.__new__(HFClassifierScorer)
    scorer.requested_label, scorer.model_ref = None, "m"
    assert scorer._choose_label(["LABEL_0", "LABEL_1"]) == 1
    assert scorer._choose_label(["nothate", "hate"]) == 1
    assert scorer._choose_label(["neutral", "Toxic"]) == 1
    with pytest.raises(ConfigError, match="Cannot tell which class"):
        scorer._choose_label(["positive", "negative", "neutral"])
