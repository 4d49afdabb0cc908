"""Real scorers: alt-profanity-check (shipped model), Detoxify on a locally trained tiny checkpoint through
Detoxify's own loading code, and a local Hugging Face classifier; plus the errors that stop a run."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from auditkit.adapters.weights import files_hash
from auditkit.analyzers.base import Observation
from auditkit.analyzers.toxicity import make_toxicity
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
def test_detoxify_own_loader_scores_tiny_checkpoint(tiny_detoxify: TinyDetoxify) -> None:
    from detoxify import Detoxify

    model = Detoxify(checkpoint=str(tiny_detoxify.checkpoint),
                     huggingface_config_path=str(tiny_detoxify.config_dir))
    result = model.predict([INSULT, FRIENDLY])
    assert result["toxicity"][0] > 0.8 > 0.2 > result["toxicity"][1]
    assert result["insult"][0] > 0.8  # Detoxify renamed the checkpoint's "toxic" class to "toxicity"


@pytest.mark.slow  # imports torch + transformers and trains the tiny model (~5-25 s)
def test_detoxify_backend(tiny_detoxify: TinyDetoxify) -> None:
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

    with pytest.raises(ConfigError, match=r"does not exist.*checkpoint=PATH"):
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
def test_hf_classifier_backend(tiny_detoxify: TinyDetoxify) -> None:
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


def test_profanity_check_matches_the_packages_own_predict_prob() -> None:
    from profanity_check import predict_prob

    texts = [INSULT, FRIENDLY, "", "damn it", "what the hell is this shit", "a calm evening by the sea"] * 7
    analyzer = make_toxicity(options={"backend": "profanity-check", "batch_size": 5})
    scores = analyzer.score(items=observations(*texts))
    assert [s.prompt_id for s in scores] == [f"p{i}" for i in range(len(texts))]
    assert [s.value for s in scores] == pytest.approx(list(predict_prob(texts)), abs=1e-12)


class RecordingScorer:
    """Wraps a real scorer and keeps the batches it was given."""

    def __init__(self, inner: ToxicityScorer) -> None:
        self.inner = inner
        self.batches: list[list[str]] = []

    @property
    def identity(self):  # noqa: ANN201
        return self.inner.identity

    def score_batch(self, *, texts):  # noqa: ANN001, ANN201
        self.batches.append(list(texts))
        return self.inner.score_batch(texts=texts)


@pytest.mark.slow  # imports torch + transformers and trains the tiny model (~5-25 s)
def test_detoxify_batches_by_length_and_keeps_scores_and_order(tiny_detoxify: TinyDetoxify) -> None:
    from auditkit.analyzers.toxicity import ToxicityAnalyzer

    built = make_toxicity(options={"backend": "detoxify", "checkpoint": str(tiny_detoxify.checkpoint),
                                   "huggingface_config_path": str(tiny_detoxify.config_dir)})
    assert built.sort_window > 1 and built.batch_size == built.scorer_batch_size * built.sort_window
    model = built.scorer._load()  # noqa: SLF001 - the reference: Detoxify's own predict, text by text
    words = (INSULT + " " + FRIENDLY).split()
    texts = [" ".join(words[: 1 + (i * 7) % len(words)]) for i in range(23)]
    recorder = RecordingScorer(built.scorer)
    analyzer = ToxicityAnalyzer(scorer=recorder, batch_size=4, sort_window=3)
    scores = analyzer.score(items=observations(*texts))

    assert [s.prompt_id for s in scores] == [f"p{i}" for i in range(len(texts))]
    for text, score in zip(texts, scores):
        assert score.value == pytest.approx(float(model.predict([text])["toxicity"]), abs=1e-5)
    # Windows of 3 × 4 outputs, each sorted by length before it is cut into batches of 4.
    assert [len(b) for b in recorder.batches] == [4, 4, 4, 4, 4, 3]
    for first in range(0, 6, 3):
        window = [t for b in recorder.batches[first : first + 3] for t in b]
        assert [len(t) for t in window] == sorted(len(t) for t in window)
        assert sorted(window) == sorted(texts[first * 4 : first * 4 + len(window)])


@pytest.mark.parametrize(("bad", "message"), [
    (lambda n: {"toxicity": [0.1] * (n + 1)}, "values for"),
    (lambda n: {"toxicity": [float("nan")] * n}, "not a probability"),
    (lambda n: {"toxicity": [1.5] * n}, "not a probability"),
    (lambda n: {"insult": [0.1] * n}, "no 'toxicity' column"),
])
def test_malformed_scorer_columns_become_error_scores_not_values(bad, message: str) -> None:  # noqa: ANN001
    from auditkit.analyzers.toxicity import ToxicityAnalyzer

    class Malformed:
        identity: dict = {"backend": "malformed"}

        def score_batch(self, *, texts):  # noqa: ANN001, ANN201
            return bad(len(texts))

    scores = ToxicityAnalyzer(scorer=Malformed(), batch_size=2).score(items=observations("a", "b", "c"))
    assert [s.prompt_id for s in scores] == ["p0", "p1", "p2"]
    assert all(s.value is None and message in (s.error or "") for s in scores), scores
