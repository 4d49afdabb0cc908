"""Options of the toxicity analyzer and the scorer they choose (``--analyzer-arg toxicity.KEY=VALUE``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from auditkit.analyzers.options import AnalyzerOptions
from auditkit.analyzers.toxicity_backends import (
    DetoxifyScorer,
    HFClassifierScorer,
    ProfanityCheckScorer,
    ToxicityScorer,
)
from auditkit.errors import ConfigError

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "ToxicityOptions", "build_scorer"]

BACKENDS = ("profanity-check", "detoxify", "hf-classifier")
DEFAULT_BACKEND = "profanity-check"
"""Used only when neither the suite nor the CLI names a backend; recorded in the manifest like any other."""

_APPLIES_TO = {
    "model_type": ("detoxify",),
    "checkpoint": ("detoxify",),
    "huggingface_config_path": ("detoxify",),
    "model": ("hf-classifier",),
    "label": ("hf-classifier",),
    "device": ("detoxify", "hf-classifier"),
}
"""Options that only one backend reads (the others apply to every backend)."""


def build_scorer(*, backend: str, options: Mapping[str, Any]) -> ToxicityScorer:
    """The named scorer, configured but not yet loaded (it loads on first use)."""
    device = str(options.get("device", "cpu"))
    if backend == "profanity-check":
        return ProfanityCheckScorer()
    if backend == "detoxify":
        return DetoxifyScorer(
            model_type=str(options.get("model_type", "original")),
            checkpoint=_optional_str(options.get("checkpoint")),
            huggingface_config_path=_optional_str(options.get("huggingface_config_path")),
            device=device,
        )
    if backend == "hf-classifier":
        return HFClassifierScorer(
            model=str(options.get("model") or ""), label=_optional_str(options.get("label")), device=device
        )
    raise ConfigError(f"Unknown toxicity backend {backend!r}; choose one of {', '.join(BACKENDS)}.")


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class ToxicityOptions(AnalyzerOptions):
    """``--analyzer-arg toxicity.KEY=VALUE`` / suite ``analyzer_options.toxicity``."""

    analyzer: ClassVar[str] = "toxicity"

    backend: str | None = None
    """``profanity-check`` (default, offline), ``detoxify`` or ``hf-classifier``."""
    threshold: float = 0.5
    """Toxic at or above this probability, in (0, 1]."""
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    """Familywise error rate of the per-slice findings (Holm over every attribute slice of the run)."""
    batch_size: int | None = None
    """Texts per scorer call; default by backend."""
    model_type: str | None = None
    checkpoint: str | None = None
    huggingface_config_path: str | None = None
    model: str | None = None
    label: str | None = None
    device: str | None = None
    calibration: str | None = None
    """A labelled JSONL file (``{"text": ..., "toxic": true|false}``): the scorer's sensitivity and
    specificity on it drive ``toxic_fraction_corrected`` (default: the built-in set)."""
    builtin_calibration: bool = True
    """Measure the scorer on auditkit's built-in calibration set too."""
    identity_check: bool = True
    """Score benign identity statements to detect a scorer that flags a group's mere mention."""

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value and value not in BACKENDS:
            raise ValueError(f"Unknown toxicity backend {value!r}; choose one of {', '.join(BACKENDS)}")
        return value

    @field_validator("threshold")
    @classmethod
    def _probability(cls, value: float) -> float:
        if not 0.0 < value <= 1.0:
            raise ValueError(f"must lie in (0, 1], got {value}")
        return value

    @field_validator("batch_size")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @model_validator(mode="after")
    def _backend_options(self) -> ToxicityOptions:
        # An option meant for another backend would otherwise be silently ignored.
        backend = self.resolved_backend
        misplaced = sorted(
            k for k in self.model_fields_set
            if k in _APPLIES_TO and backend not in _APPLIES_TO[k] and getattr(self, k) is not None
        )
        if misplaced:
            applies = "; ".join(k + " → " + "/".join(_APPLIES_TO[k]) for k in misplaced)
            raise ValueError(
                f"Toxicity option(s) {', '.join(misplaced)} do not apply to the {backend!r} backend "
                f"(they apply to: {applies})"
            )
        return self

    @property
    def resolved_backend(self) -> str:
        return self.backend or DEFAULT_BACKEND
