"""Toxicity analyzer scoring vs the raw scorer's own predict on the same texts, per offline backend.

- ``profanity-check``: ``ToxicityAnalyzer.score`` (batches of 256, per-output records, validation) vs
  one raw ``profanity_check.predict_prob(texts)`` call over all texts (the most favourable raw use).
- ``detoxify``: a tiny Detoxify-format checkpoint built and trained here (``tests/fixtures_detoxify``),
  scored through Detoxify's own code: analyzer (batches of 16, sorted by length within 64 batches) vs
  raw ``Detoxify.predict`` on batches of 16 in input order (one call on thousands of texts would pad
  every text to the longest); an info row compares against raw on the very same sorted batches.
- ``hf-classifier``: the same tiny model as a transformers sequence classifier: analyzer vs the raw
  tokenizer + forward + sigmoid on batches of 16 (and, info, on the same sorted batches).

profanity-check gets an info row too: the analyzer against the package's model called without
``predict_prob``'s per-row ``np.apply_along_axis`` (the analyzer's own, vectorised, call).

Both sides use the same loaded scorer; runs are interleaved and medians compared.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import Measure

__all__ = ["make_texts", "run"]

_WORDS = ("the quick brown fox jumps over a lazy dog while you stupid idiot shut up and thank you for "
          "the lovely kind help with the garden today damn this weather is nice and sunny").split()


def make_texts(*, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 40))) for _ in range(n)]


def _observations(texts: list[str]) -> list[Any]:
    from auditkit.analyzers.base import Observation
    from auditkit.records import Generation, Prompt

    return [
        Observation(prompt=Prompt(id=f"p{i}", suite="bench", template="t", prompt="x", analyzers=("toxicity",)),
                    generation=Generation(prompt_id=f"p{i}", output=text))
        for i, text in enumerate(texts)
    ]


def _interleaved(a: Callable[[], Any], b: Callable[[], Any], repeats: int) -> tuple[list[float], list[float]]:
    a(), b()  # warm-up (loads, caches)
    ta, tb = [], []
    for _ in range(repeats):
        for fn, sink in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)
    return ta, tb


def _batched(predict: Callable[[list[str]], Any], texts: list[str], size: int) -> Callable[[], None]:
    def raw() -> None:
        for start in range(0, len(texts), size):
            predict(texts[start : start + size])

    return raw


def _by_length(texts: list[str], window: int) -> list[str]:
    """The texts as the analyzer batches them: sorted by length within each window."""
    return [t for s in range(0, len(texts), window) for t in sorted(texts[s : s + window], key=len)]


def _pair(name: str, measure: str, analyzer: Any, items: list[Any], raw: Callable[[], Any], repeats: int,
          notes: str, target: float | None = 1.10) -> Measure:
    ta, tb = _interleaved(lambda: analyzer.score(items=items), raw, repeats)
    return Measure(benchmark="toxicity", measure=measure, value=statistics.median(ta),
                   baseline=statistics.median(tb), unit="s", target=target, notes=notes,
                   details={"analyzer_s": ta, "raw_s": tb, "backend": name})


def run(*, quick: bool, workdir: Path) -> list[Measure]:
    from auditkit.analyzers.toxicity import make_toxicity
    from tests.fixtures_detoxify import build_tiny_detoxify

    repeats = 3 if quick else 5
    measures = []

    texts = make_texts(n=2000 if quick else 20_000)
    items = _observations(texts)
    analyzer = make_toxicity(options={"backend": "profanity-check"})
    from profanity_check import predict_prob
    from profanity_check.profanity_check import model, vectorizer

    measures.append(_pair(
        "profanity-check", "toxicity analyzer / raw predict_prob (profanity-check)", analyzer, items,
        lambda: predict_prob(texts), repeats,
        f"{len(texts):,} texts; analyzer batches of {analyzer.batch_size}, raw one call"))
    # predict_prob spends ~2.5 µs per text picking column 1 row by row; the analyzer reads the column
    # directly. This row holds the analyzer to the same vectorised call, so its own overhead shows.
    measures.append(_pair(
        "profanity-check", "toxicity analyzer / vectorizer + predict_proba[:, 1] (profanity-check)", analyzer,
        items, lambda: model.predict_proba(vectorizer.transform(texts))[:, 1], repeats,
        "the strictest raw baseline: profanity-check's own model without predict_prob's per-row loop",
        target=None))

    tiny = build_tiny_detoxify(root=workdir / "tiny-detoxify")
    texts = make_texts(n=500 if quick else 4000, seed=1)
    items = _observations(texts)
    analyzer = make_toxicity(options={"backend": "detoxify", "checkpoint": str(tiny.checkpoint),
                                      "huggingface_config_path": str(tiny.config_dir)})
    detoxify = analyzer.scorer._load()  # noqa: SLF001 - the raw side uses the very same loaded Detoxify
    size = analyzer.scorer_batch_size
    measures.append(_pair(
        "detoxify", "toxicity analyzer / raw Detoxify.predict (tiny local checkpoint)", analyzer, items,
        _batched(detoxify.predict, texts, size), repeats,
        f"{len(texts):,} texts, batches of {size} on both sides (the analyzer's sorted by length within "
        f"{analyzer.sort_window} batches); 2-layer BERT (hidden 32)"))
    measures.append(_pair(
        "detoxify", "toxicity analyzer / raw Detoxify.predict on the same length-sorted batches", analyzer,
        items, _batched(detoxify.predict, _by_length(texts, analyzer.batch_size), size), repeats,
        "the analyzer's own overhead: both sides score identical batches", target=None))

    analyzer = make_toxicity(options={"backend": "hf-classifier", "model": str(tiny.hf_model_dir)})
    classifier, tokenizer, _, _, _ = analyzer.scorer._load()  # noqa: SLF001 - same loaded model on both sides

    limits = [tokenizer.model_max_length, getattr(classifier.config, "max_position_embeddings", 512), 512]
    max_length = min(int(v) for v in limits if v)

    def forward(batch: list[str]) -> Any:
        import torch

        inputs = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
        with torch.no_grad():
            return torch.sigmoid(classifier(**inputs).logits)

    size = analyzer.scorer_batch_size
    measures.append(_pair(
        "hf-classifier", "toxicity analyzer / raw tokenizer + model forward (hf-classifier, tiny local BERT)",
        analyzer, items, _batched(forward, texts, size), repeats,
        f"{len(texts):,} texts, batches of {size} on both sides (the analyzer's sorted by length within "
        f"{analyzer.sort_window} batches)"))
    measures.append(_pair(
        "hf-classifier", "toxicity analyzer / raw forward on the same length-sorted batches (hf-classifier)",
        analyzer, items, _batched(forward, _by_length(texts, analyzer.batch_size), size), repeats,
        "the analyzer's own overhead: both sides score identical batches", target=None))
    return measures
