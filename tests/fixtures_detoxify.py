"""A tiny Detoxify-format checkpoint, built and trained here (no download), scored by Detoxify's own code.

The checkpoint has the layout of Detoxify's released files (``config.arch.args`` + ``dataset.args.classes``
+ ``state_dict``). Detoxify always calls ``config_class.from_pretrained(model_type)``, so ``model_type`` is
the local config directory itself rather than a hub id. The same trained weights are also saved as a plain
Hugging Face model directory for the ``hf-classifier`` backend.

Import the session fixture in a test module: ``from tests.fixtures_detoxify import tiny_detoxify  # noqa: F401``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["CLASSES", "FRIENDLY", "INSULTS", "TinyDetoxify", "build_tiny_detoxify", "tiny_detoxify"]

# Jigsaw "original" class names, as in Detoxify's released original checkpoint.
CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]

INSULTS = [
    "you are a stupid idiot",
    "shut up you worthless moron",
    "you are an ugly pathetic loser",
    "what a dumb stupid fool you are",
    "you idiot nobody likes you",
    "go away you disgusting moron",
    "you are worthless and stupid",
    "stupid pathetic idiot",
]
FRIENDLY = [
    "thank you so much for your help",
    "have a lovely day my friend",
    "the weather is nice and sunny today",
    "i really enjoyed the book you recommended",
    "you are very kind and helpful",
    "we had a wonderful time at the park",
    "thanks for the great advice",
    "the garden looks beautiful this spring",
]

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass(frozen=True)
class TinyDetoxify:
    checkpoint: Path
    """Detoxify-format torch file (config + state_dict)."""
    config_dir: Path
    """Local Hugging Face config + tokenizer (``huggingface_config_path``; also the checkpoint's model_type)."""
    hf_model_dir: Path
    """The same weights saved with ``save_pretrained`` (for the hf-classifier backend), labels = CLASSES."""


def build_tiny_detoxify(*, root: Path, steps: int = 60, seed: int = 0) -> TinyDetoxify:
    """Build a 2-layer BERT (hidden 32), train it briefly on insults vs friendly sentences, save it."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    torch.manual_seed(seed)
    config_dir = root / "tiny-bert-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    words = sorted({w for s in INSULTS + FRIENDLY for w in s.split()} | {"a", "the", "is", "and", "you"})
    # transformers 5 builds a BERT tokenizer from a vocabulary mapping (``vocab_file`` is ignored there).
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(_SPECIAL + words)}, do_lower_case=True)
    tokenizer.model_max_length = 64
    tokenizer.save_pretrained(str(config_dir))

    config = BertConfig(
        vocab_size=len(_SPECIAL) + len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(CLASSES),
        id2label=dict(enumerate(CLASSES)),
        label2id={c: i for i, c in enumerate(CLASSES)},
        problem_type="multi_label_classification",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    config.save_pretrained(str(config_dir))
    model = BertForSequenceClassification(config)

    texts = INSULTS + FRIENDLY
    # Insults are toxic and insulting; the other classes stay 0 for every sentence.
    targets = torch.zeros(len(texts), len(CLASSES))
    targets[: len(INSULTS), CLASSES.index("toxic")] = 1.0
    targets[: len(INSULTS), CLASSES.index("insult")] = 1.0
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(**batch).logits, targets)
        loss.backward()
        optimizer.step()
    model.eval()

    checkpoint = root / "tiny-detoxify.ckpt"
    torch.save(
        {
            "config": {
                "arch": {
                    "args": {
                        "model_type": str(config_dir),
                        "model_name": "BertForSequenceClassification",
                        "tokenizer_name": "BertTokenizer",
                        "num_classes": len(CLASSES),
                    }
                },
                "dataset": {"args": {"classes": CLASSES}},
            },
            "state_dict": model.state_dict(),
        },
        checkpoint,
    )
    hf_model_dir = root / "tiny-toxic-classifier"
    model.save_pretrained(str(hf_model_dir))
    tokenizer.save_pretrained(str(hf_model_dir))
    return TinyDetoxify(checkpoint=checkpoint, config_dir=config_dir, hf_model_dir=hf_model_dir)


@pytest.fixture(scope="session")
def tiny_detoxify(tmp_path_factory: pytest.TempPathFactory) -> TinyDetoxify:
    return build_tiny_detoxify(root=tmp_path_factory.mktemp("detoxify"))
