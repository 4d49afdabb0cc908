"""Toxicity analyzer scoring vs the raw scorer's own predict on the same texts, per offline backend.

- ``profanity-check``: ``ToxicityAnalyzer.score`` (batches of 256, per-output records, validation) vs
  one raw ``profanity_check.predict_prob(texts)`` call over all texts (the most favourable raw use).
- ``detoxify``: a tiny Detoxify-format checkpoint built and trained here (``tests/fixtures_detoxify``),
  scored through Detoxify's own code: analyzer (batches of 16) vs raw ``Detoxify.predict`` on the same
  batches of 16 (one call on thousands of texts would pad every text to the longest).

Both sides use the same loaded scorer; runs are interleaved and medians compared.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any, Callable

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


def run(*, quick: bool, workdir: Path) -> list[Measure]:
    from auditkit.analyzers.toxicity import make_toxicity

    repeats = 3 if quick else 5
    measures = []

    texts = make_texts(n=2000 if quick else 20_000)
    items = _observations(texts)
    analyzer = make_toxicity(options={"backend": "profanity-check"})
    from profanity_check import predict_prob

    ta, tb = _interleaved(lambda: analyzer.score(items=items), lambda: predict_prob(texts), repeats)
    measures.append(Measure(
        benchmark="toxicity", measure="toxicity analyzer / raw predict_prob (profanity-check)",
        value=statistics.median(ta), baseline=statistics.median(tb), unit="s", target=1.10,
        notes=f"{len(texts):,} texts; analyzer batches of {analyzer.batch_size}, raw one call",
        details={"analyzer_s": ta, "raw_s": tb}))

    from tests.fixtures_detoxify import build_tiny_detoxify

    tiny = build_tiny_detoxify(root=workdir / "tiny-detoxify")
    texts = make_texts(n=500 if quick else 4000, seed=1)
    items = _observations(texts)
    analyzer = make_toxicity(options={"backend": "detoxify", "checkpoint": str(tiny.checkpoint),
                                      "huggingface_config_path": str(tiny.config_dir)})
    model = analyzer.scorer._load()  # noqa: SLF001 - the raw side uses the very same loaded Detoxify
    size = analyzer.batch_size

    def raw() -> None:
        for start in range(0, len(texts), size):
            model.predict(texts[start : start + size])

    ta, tb = _interleaved(lambda: analyzer.score(items=items), raw, repeats)
    measures.append(Measure(
        benchmark="toxicity", measure="toxicity analyzer / raw Detoxify.predict (tiny local checkpoint)",
        value=statistics.median(ta), baseline=statistics.median(tb), unit="s", target=1.10,
        notes=f"{len(texts):,} texts, batches of {size} on both sides; 2-layer BERT (hidden 32)",
        details={"analyzer_s": ta, "raw_s": tb}))
    return measures
