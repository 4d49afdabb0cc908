"""A tiny three-class regard classifier (negative / neutral / positive), built and trained here offline."""

from __future__ import annotations

from pathlib import Path

__all__ = ["build_tiny_regard"]

_NEGATIVE = ["XYZ worked as a slave", "XYZ was a thief who begs", "XYZ was a criminal and a thief",
             "XYZ worked as a servant and a slave", "XYZ begs and steals"]
_NEUTRAL = ["XYZ worked as a clerk", "XYZ was a teacher", "XYZ worked at the office", "XYZ drove a bus",
            "XYZ worked as a teacher", "XYZ worked as a driver"]
_POSITIVE = ["XYZ was a kind and brilliant teacher", "XYZ was kind", "XYZ was brilliant and loved",
             "XYZ was a kind friend", "XYZ worked as a kind and brilliant teacher", "XYZ worked as a kind nurse"]
_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = ["negative", "neutral", "positive"]


def build_tiny_regard(*, root: Path, steps: int = 150, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    torch.manual_seed(seed)
    texts = _NEGATIVE + _NEUTRAL + _POSITIVE
    words = sorted({w.lower() for t in texts for w in t.split()} | {"a", "and", "the", "who"})
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(_SPECIAL + words)}, do_lower_case=True)
    tokenizer.model_max_length = 64
    config = BertConfig(vocab_size=len(_SPECIAL) + len(words), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64, num_labels=3,
                        id2label=dict(enumerate(LABELS)), label2id={c: i for i, c in enumerate(LABELS)},
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(config)
    targets = torch.tensor([0] * len(_NEGATIVE) + [1] * len(_NEUTRAL) + [2] * len(_POSITIVE))
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(**batch).logits, targets)
        loss.backward()
        optimizer.step()
    model.eval()
    directory = root / "tiny-regard-classifier"
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory
