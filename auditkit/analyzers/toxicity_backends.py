"""Toxicity scorers behind one small Protocol: Detoxify, alt-profanity-check and local HF classifiers.

A scorer turns a batch of texts into class probability columns: one sequence per class, one value per
text, in order; there is always a ``toxicity`` column (the headline probability the analyzer thresholds).
Columns, not a dict per text: the fastest scorers cost ~10 µs per text, and a Python dict per text and
class would add a third to that. Scorers load their model on first
use (and heavy libraries only then), and a scorer that cannot load raises ``ConfigError`` (exit 2) that
says how to fix the setup. There is deliberately no fallback from one scorer to another: two scorers give
different numbers, so the run must say which one it used (``identity``) and stop if that one is missing.

Example: a scorer of your own, passed to ``ToxicityAnalyzer(scorer=...)``::

    class ShoutScorer:
        identity = {"backend": "shout", "version": "1", "weights_hash": None}

        def score_batch(self, *, texts):
            return {"toxicity": [1.0 if t.isupper() else 0.0 for t in texts]}
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from auditkit.adapters.weights import files_hash
from auditkit.errors import ConfigError

__all__ = [
    "DETOXIFY_HF_BASES",
    "DetoxifyScorer",
    "HFClassifierScorer",
    "ProfanityCheckScorer",
    "ToxicityScorer",
    "check_columns",
]

# The Hugging Face base model each released Detoxify checkpoint names as its ``model_type``: offline users
# need its config + tokenizer saved locally (``huggingface_config_path``).
DETOXIFY_HF_BASES: Mapping[str, str] = {
    "original": "bert-base-uncased",
    "unbiased": "roberta-base",
    "multilingual": "xlm-roberta-base",
}

# Detoxify's per-class outputs worth keeping in a Score's details; the unbiased model also predicts
# identity mentions (male, christian, ...), which are not toxicity and would bloat outputs.jsonl.
_DETOXIFY_ATTRIBUTES = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "threat",
    "insult",
    "identity_attack",
    "sexual_explicit",
)

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".joblib", ".json", ".txt", ".model")


@runtime_checkable
class ToxicityScorer(Protocol):
    """Turns texts into class probabilities in [0, 1]: one column per class, always a ``toxicity`` one."""

    @property
    def identity(self) -> Mapping[str, Any]:
        """``backend``, ``version`` (package version), ``weights_hash`` and the scorer's settings."""
        ...

    def score_batch(self, *, texts: Sequence[str]) -> Mapping[str, Sequence[float]]:
        """Class name → one probability per text, in order (lists or 1-d arrays).

        May raise: the analyzer then retries the batch text by text to pin the failure on one output.
        """
        ...


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _require_package(*, module: str, dist: str, backend: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"The toxicity backend {backend!r} needs the Python package {dist!r}, which is not installed. "
            f"Install it (pip install {dist}) or choose another backend with "
            f"--analyzer-arg toxicity.backend=profanity-check|detoxify|hf-classifier."
        )


def check_columns(columns: Mapping[str, Any], *, count: int) -> dict[str, list[float]]:
    """Validated columns as lists of floats; anything but ``count`` probabilities per class raises.

    A wrong-length, NaN or out-of-range result must surface as a scorer failure (an error score), never
    as a silently wrong score. Checked with numpy: one pass per column, not one Python test per value.
    """
    import numpy as np

    if "toxicity" not in columns:
        raise RuntimeError(f"scorer returned no 'toxicity' column (columns: {sorted(columns)})")
    checked = {}
    for key, column in columns.items():
        values = np.asarray(column, dtype=np.float64)
        if values.shape != (count,):
            raise RuntimeError(f"scorer returned {values.size} {key} values for {count} texts")
        bad = ~(np.isfinite(values) & (values >= 0.0) & (values <= 1.0))
        if bad.any():
            raise RuntimeError(f"scorer returned {key}={values[bad][0]!r}, not a probability")
        checked[str(key)] = values.tolist()
    return checked


def _torch_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class ProfanityCheckScorer:
    """alt-profanity-check: a linear SVM over a TF-IDF of words, shipped in its wheel (works offline).

    It measures profanity/offensive wording rather than the broader Jigsaw "toxicity" construct, and
    reports one class only (``toxicity`` = its probability of profanity).
    """

    def __init__(self) -> None:
        _require_package(module="profanity_check", dist="alt-profanity-check", backend="profanity-check")
        self._model: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            try:
                # The module loads the shipped vectorizer and model at import.
                from profanity_check import profanity_check as shipped
            except Exception as exc:  # e.g. a scikit-learn version that cannot unpickle the shipped model
                raise ConfigError(
                    f"alt-profanity-check could not load its shipped model: {exc}. It needs the exact "
                    f"scikit-learn/joblib versions it pins; reinstall it with "
                    f"pip install --force-reinstall alt-profanity-check=={_package_version('alt-profanity-check')}."
                ) from exc
            self._model = (shipped.vectorizer, shipped.model)
        return self._model

    @property
    def identity(self) -> Mapping[str, Any]:
        import importlib.util

        spec = importlib.util.find_spec("profanity_check")
        data = Path(next(iter(spec.submodule_search_locations or ()))) / "data"  # type: ignore[union-attr]
        files = [data / "model.joblib", data / "vectorizer.joblib"]
        return {
            "backend": "profanity-check",
            "package": "alt-profanity-check",
            "version": _package_version("alt-profanity-check"),
            "scikit_learn": _package_version("scikit-learn"),
            "weights_hash": files_hash(files=[f for f in files if f.is_file()]),
            "classes": ["toxicity"],
        }

    def score_batch(self, *, texts: Sequence[str]) -> Mapping[str, Sequence[float]]:
        vectorizer, model = self._load()
        # The same numbers as profanity_check.predict_prob, which picks column 1 with np.apply_along_axis:
        # a Python call per row, ~2.5 µs per text, a quarter of the whole prediction.
        return {"toxicity": model.predict_proba(vectorizer.transform(list(texts)))[:, 1]}


class DetoxifyScorer:
    """Detoxify (Unitary): BERT/RoBERTa/XLM-R models fine-tuned on the Jigsaw toxic-comment challenges.

    Without ``checkpoint`` Detoxify downloads the released weights of ``model_type`` from GitHub into the
    torch hub cache (and the base model's config/tokenizer from the Hugging Face hub). Offline, pass
    ``checkpoint`` (a Detoxify ``.ckpt``) and ``huggingface_config_path`` (a local config + tokenizer dir).
    """

    def __init__(
        self,
        *,
        model_type: str = "original",
        checkpoint: str | None = None,
        huggingface_config_path: str | None = None,
        device: str = "cpu",
    ) -> None:
        _require_package(module="detoxify", dist="detoxify", backend="detoxify")
        if model_type not in DETOXIFY_HF_BASES:
            raise ConfigError(
                f"Unknown Detoxify model_type {model_type!r}; use one of {', '.join(DETOXIFY_HF_BASES)}."
            )
        self.model_type = model_type
        self.checkpoint = Path(checkpoint).expanduser() if checkpoint else None
        self.huggingface_config_path = (
            Path(huggingface_config_path).expanduser() if huggingface_config_path else None
        )
        if self.checkpoint is not None and not self.checkpoint.is_file():
            raise ConfigError(
                f"Detoxify checkpoint {str(self.checkpoint)!r} does not exist. {self._fix_hint()}"
            )
        if self.huggingface_config_path is not None and not self.huggingface_config_path.is_dir():
            raise ConfigError(
                f"Detoxify huggingface_config_path {str(self.huggingface_config_path)!r} is not a directory. "
                f"{self._fix_hint()}"
            )
        self.device = device
        self._model: Any = None
        self._weights_file: Path | None = self.checkpoint

    def _default_url(self) -> str:
        from detoxify.detoxify import MODEL_URLS

        return MODEL_URLS[self.model_type]

    def _fix_hint(self) -> str:
        try:
            url = self._default_url()
        except Exception:  # detoxify itself missing: the install hint was already given
            url = f"the Detoxify release file for {self.model_type!r}"
        base = DETOXIFY_HF_BASES[self.model_type]
        try:
            import torch.hub

            hub = str(Path(torch.hub.get_dir()) / "checkpoints")
        except Exception:  # torch missing: name the default location
            hub = "<TORCH_HOME or ~/.cache/torch>/hub/checkpoints"
        return (
            f"To use Detoxify offline: download {url} on a machine with internet and either put it in the "
            f"torch hub cache ({hub}/) or pass "
            f"--analyzer-arg toxicity.checkpoint=PATH/TO/FILE.ckpt; save the config and tokenizer of "
            f"{base!r} (AutoConfig/AutoTokenizer.from_pretrained({base!r}).save_pretrained(DIR)) and pass "
            f"--analyzer-arg toxicity.huggingface_config_path=DIR. Detoxify also looks up the checkpoint's "
            f"own model_type ({base!r}) with transformers, so keep that model in your Hugging Face cache "
            f"(HF_HUB_OFFLINE=1) or re-save the checkpoint with config.arch.args.model_type set to DIR. "
            f"Or choose the offline backend: --analyzer-arg toxicity.backend=profanity-check."
        )

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        from detoxify import Detoxify

        try:
            model = Detoxify(
                model_type=self.model_type,
                checkpoint=str(self.checkpoint) if self.checkpoint else None,
                device=_torch_device(self.device),
                huggingface_config_path=(
                    str(self.huggingface_config_path) if self.huggingface_config_path else None
                ),
            )
        except Exception as exc:
            source = str(self.checkpoint) if self.checkpoint else f"the default {self.model_type!r} weights"
            raise ConfigError(
                f"Detoxify could not load {source}: {type(exc).__name__}: {exc}. {self._fix_hint()}"
            ) from exc
        if self.checkpoint is None:
            import torch.hub

            cached = Path(torch.hub.get_dir()) / "checkpoints" / self._default_url().rsplit("/", 1)[-1]
            self._weights_file = cached if cached.is_file() else None
        self._model = model
        return model

    @property
    def identity(self) -> Mapping[str, Any]:
        model = self._load()
        return {
            "backend": "detoxify",
            "package": "detoxify",
            "version": _package_version("detoxify"),
            "model_type": self.model_type,
            "checkpoint": str(self.checkpoint) if self.checkpoint else self._default_url(),
            "weights_hash": files_hash(files=[self._weights_file]) if self._weights_file else None,
            "classes": list(model.class_names),
        }

    def score_batch(self, *, texts: Sequence[str]) -> Mapping[str, Sequence[float]]:
        model = self._load()
        predictions = model.predict(list(texts))
        # Detoxify squeezes a batch of one down to plain floats.
        columns = {k: (v if isinstance(v, list) else [v]) for k, v in predictions.items()}
        if "toxicity" not in columns:
            raise RuntimeError(f"Detoxify model has no 'toxicity' class (classes: {sorted(columns)})")
        keep = [k for k in _DETOXIFY_ATTRIBUTES if k in columns] or sorted(columns)
        return {k: columns[k] for k in keep}


class HFClassifierScorer:
    """Any Hugging Face sequence classifier (a local directory, or a hub id for users online).

    ``label`` names the class that means toxic; by default the first of toxic / toxicity / hate /
    offensive present, or ``LABEL_1`` of a two-label model. Multi-label models (``problem_type``
    ``multi_label_classification``) are read with a sigmoid per class, others with a softmax.
    """

    _DEFAULT_LABELS = ("toxic", "toxicity", "hate", "offensive", "abusive")

    def __init__(self, *, model: str, label: str | None = None, device: str = "cpu") -> None:
        _require_package(module="transformers", dist="transformers", backend="hf-classifier")
        if not model:
            raise ConfigError(
                "The hf-classifier toxicity backend needs a model: pass "
                "--analyzer-arg toxicity.model=DIR (a local text-classification model) or a hub id."
            )
        path = Path(model).expanduser()
        looks_local = model.startswith((".", "/", "~")) or path.exists()
        if looks_local and not path.is_dir():
            raise ConfigError(f"hf-classifier model directory {model!r} does not exist.")
        self.model_ref = str(path) if looks_local else model
        self.is_local = looks_local
        self.requested_label = label
        self.device = device
        self._loaded: tuple[Any, Any, int, list[str], bool] | None = None

    def _load(self) -> tuple[Any, Any, int, list[str], bool]:
        if self._loaded is not None:
            return self._loaded
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_ref, local_files_only=self.is_local)
            model = AutoModelForSequenceClassification.from_pretrained(
                self.model_ref, local_files_only=self.is_local
            )
        except Exception as exc:
            raise ConfigError(
                f"Could not load the text-classification model {self.model_ref!r}: {type(exc).__name__}: "
                f"{exc}. Pass a local directory holding config.json, the weights and the tokenizer "
                f"(save_pretrained output) as --analyzer-arg toxicity.model=DIR; hub ids need internet."
            ) from exc
        model.to(_torch_device(self.device)).eval()
        labels = [str(model.config.id2label[i]) for i in range(model.config.num_labels)]
        index = self._choose_label(labels)
        multi = model.config.problem_type == "multi_label_classification" or model.config.num_labels == 1
        self._loaded = (model, tokenizer, index, labels, multi)
        return self._loaded

    def _choose_label(self, labels: list[str]) -> int:
        lowered = [label.lower() for label in labels]
        if self.requested_label is not None:
            if self.requested_label.lower() in lowered:
                return lowered.index(self.requested_label.lower())
            raise ConfigError(
                f"Label {self.requested_label!r} is not a class of {self.model_ref!r}; its labels are "
                f"{labels}. Pass one of them as --analyzer-arg toxicity.label=NAME."
            )
        for name in self._DEFAULT_LABELS:
            if name in lowered:
                return lowered.index(name)
        if lowered == ["label_0", "label_1"]:
            return 1
        if len(labels) == 1:
            return 0
        raise ConfigError(
            f"Cannot tell which class of {self.model_ref!r} means toxic; its labels are {labels}. "
            f"Pass one as --analyzer-arg toxicity.label=NAME."
        )

    def _weights_hash(self, model: Any) -> tuple[str, str]:
        if self.is_local:
            root = Path(self.model_ref)
            files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
            return files_hash(files=files), "sha256 of the model directory's files"
        # A hub model's files live in a cache layout we do not rely on: fingerprint the loaded tensors.
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode("utf-8"))
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return "sha256:" + digest.hexdigest(), "sha256 of the loaded parameters"

    @property
    def identity(self) -> Mapping[str, Any]:
        model, _, index, labels, multi = self._load()
        weights_hash, how = self._weights_hash(model)
        return {
            "backend": "hf-classifier",
            "package": "transformers",
            "version": _package_version("transformers"),
            "model": self.model_ref,
            "label": labels[index],
            "labels": labels,
            "activation": "sigmoid" if multi else "softmax",
            "weights_hash": weights_hash,
            "weights_hash_method": how,
        }

    def score_batch(self, *, texts: Sequence[str]) -> Mapping[str, Sequence[float]]:
        import torch

        model, tokenizer, index, labels, multi = self._load()
        limits = [tokenizer.model_max_length, getattr(model.config, "max_position_embeddings", 512), 512]
        max_length = min(int(v) for v in limits if v)
        inputs = tokenizer(
            list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_length
        ).to(model.device)
        with torch.no_grad():
            logits = model(**inputs).logits
        probs = torch.sigmoid(logits) if multi else torch.softmax(logits, dim=-1)
        table = probs.cpu().numpy()
        columns = {"toxicity": table[:, index]}
        if len(labels) <= 8:  # small label sets are worth keeping per output; large ones bloat it
            columns.update({f"label:{name}": table[:, j] for j, name in enumerate(labels)})
        return columns  # type: ignore[return-value]  # numpy columns: indexable like the declared sequences
