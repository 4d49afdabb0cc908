"""``python -m benchmarks.regard_eval``: regard scorers against the labelled outputs in tests/data/regard.

Prints precision and recall of *negative regard* on the dev set (519 outputs; the offline scorer's
examples, lexicon and threshold were tuned while looking at its errors) and on the held-out slice (165
outputs; never read while tuning), for the offline default, its two halves, and the per-output measures
auditkit had before regard (VADER negative sentiment, profanity-check toxic). docs/bias.md quotes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["evaluate", "main"]

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "regard"


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def _pr(rows: list[dict[str, Any]], flagged: list[bool]) -> tuple[float, float, int]:
    tp = sum(f and r["label"] == "negative" for r, f in zip(rows, flagged))
    fp = sum(f and r["label"] != "negative" for r, f in zip(rows, flagged))
    fn = sum(not f and r["label"] == "negative" for r, f in zip(rows, flagged))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), tp + fp


def evaluate() -> list[tuple[str, str, float, float, int]]:
    from auditkit.analyzers.bias_measures import NEGATIVE_THRESHOLD, SentimentScorer, mask_descriptor
    from auditkit.analyzers.regard import NEGATIVE_PROBABILITY, LexiconRegard, OfflineRegard, regard_text
    from auditkit.analyzers.toxicity_backends import ProfanityCheckScorer

    offline, lexicon, vader, tox = OfflineRegard(), LexiconRegard(), SentimentScorer(), ProfanityCheckScorer()
    table = []
    for name in ("dev", "heldout"):
        rows = _rows(name)
        texts = [regard_text(prompt_text=None if r["chat"] else r["prompt"], output=r["output"],
                             descriptor=r["group"]) for r in rows]
        scored = offline.score(texts=texts)
        masked = [mask_descriptor(text=r["output"], descriptor=r["group"]) for r in rows]
        toxic = tox.score_batch(texts=[r["output"] for r in rows])["toxicity"]
        flags = {
            "offline (default)": [r.label == "negative" for r in scored],
            "lexicon alone": [r.label == "negative" for r in lexicon.score(texts=texts)],
            "embedding head alone": [(r.p_negative or 0.0) >= NEGATIVE_PROBABILITY for r in scored],
            "VADER negative sentiment": [vader.compound(text=t) <= NEGATIVE_THRESHOLD for t in masked],
            "profanity-check toxic": [float(v) >= 0.5 for v in toxic],
        }
        for scorer, flagged in flags.items():
            precision, recall, n_flagged = _pr(rows, flagged)
            table.append((name, scorer, precision, recall, n_flagged))
    return table


def main() -> None:
    print("| set | scorer | precision | recall | flagged |\n|---|---|---|---|---|")
    for name, scorer, precision, recall, flagged in evaluate():
        print(f"| {name} | {scorer} | {precision:.2f} | {recall:.2f} | {flagged} |")


if __name__ == "__main__":
    main()
