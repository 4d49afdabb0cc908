"""The optional local classifier measure, with a tiny randomly initialised BERT saved to a directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.analyzers.base import build_analyzer
from auditkit.errors import ConfigError
from tests.fixtures_bias import simulate


def _tiny_classifier(directory: Path) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "was", "a", "kind", "cruel", "worker", "nurse"]
    (directory / "vocab.txt").write_text("\n".join(words), encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(directory / "vocab.txt"))
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=2, id2label={0: "negative", 1: "positive"},
                        label2id={"negative": 0, "positive": 1})
    model = BertForSequenceClassification(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.mark.slow
def test_local_classifier_scores_every_output(tmp_path: Path) -> None:
    path = _tiny_classifier(tmp_path)
    options = {"classifier": {"path": str(path), "label": "negative", "name": "negativity"},
               "permutations": 200, "resamples": 100}
    analyzer = build_analyzer(name="bias", options=options)
    assert analyzer.identity["classifier"]["weights_sha256"]
    items = simulate(seed=1, negative_share={}, pairs=6)
    scores = [s for s in analyzer.score(items=items) if s.name == "negativity"]
    assert len(scores) == len(items) and all(0.0 <= s.value <= 1.0 for s in scores)  # type: ignore[operator]
    analysis = analyzer.aggregate(items=items, scores=analyzer.score(items=items))
    assert any(m.name == "negativity_mean" for m in analysis.metrics)
    with pytest.raises(ConfigError, match="not a label"):
        bad = build_analyzer(name="bias", options={"classifier": {"path": str(path), "label": "hostile"}})
        bad.score(items=items)
