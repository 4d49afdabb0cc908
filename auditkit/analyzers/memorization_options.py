"""Options of the memorization analyzer and of ``--corpus`` splitting, as one pydantic model."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import field_validator, model_validator

from auditkit.analyzers.options import AnalyzerOptions
from auditkit.analyzers.pii import PII_KINDS

__all__ = ["MemorizationOptions"]

_NONE_WORDS = ("", "none", "None")


class MemorizationOptions(AnalyzerOptions):
    """Options of the analyzer and of ``--corpus`` splitting (``--analyzer-arg memorization.KEY=VALUE``)."""

    analyzer: ClassVar[str] = "memorization"

    prefix_words: int = 32
    """Corpus passages: words of the passage given as the prompt."""
    suffix_words: int = 50
    """Corpus passages: words after the prefix that form the reference (Carlini et al. use 50 tokens)."""
    k: int | None = None
    """Tokens that must match for exact extraction; ``None`` = the whole reference."""
    near_verbatim: float = 0.9
    """Edit similarity at or above which an output counts as near-verbatim."""
    min_k_ratio: float = 0.2
    """Fraction of lowest-probability tokens averaged by Min-K% Prob."""
    max_new_tokens: int | None = None
    """Corpus passages: tokens to generate; default max(64, 2 × suffix_words), enough to cover the suffix."""
    pii: bool = True
    """Scan every output for PII."""
    pii_kinds: tuple[str, ...] = PII_KINDS
    presidio: Literal["auto", "true", "false"] = "auto"
    """``auto`` (use Presidio when it imports and loads), ``true`` (required) or ``false``."""
    seed: int = 0
    """Seed of the bootstrap intervals."""
    canary_candidates: int = 100
    """Corpus canaries (lines with a ``secret``): random look-alikes the secret is ranked against."""

    @field_validator("k", "max_new_tokens", mode="before")
    @classmethod
    def _optional_int(cls, value: Any) -> Any:
        return None if value is None or (isinstance(value, str) and value in _NONE_WORDS) else value

    @field_validator("pii_kinds", mode="before")
    @classmethod
    def _kinds(cls, value: Any) -> Any:
        kinds = tuple(k.strip() for k in value.split(",")) if isinstance(value, str) else tuple(value)
        bad = sorted(set(kinds) - set(PII_KINDS))
        if bad:
            raise ValueError(f"unknown pii_kinds {bad}; known: {', '.join(PII_KINDS)}")
        return kinds

    @field_validator("presidio", mode="before")
    @classmethod
    def _setting(cls, value: Any) -> Any:
        text = str(value).lower()
        if text not in ("auto", "true", "false"):
            raise ValueError("presidio must be auto, true or false")
        return text

    @model_validator(mode="after")
    def _ranges(self) -> MemorizationOptions:
        if self.prefix_words < 1 or self.suffix_words < 1 or (self.k is not None and self.k < 1):
            raise ValueError("memorization analyzer: prefix_words, suffix_words and k must be >= 1")
        if not 0 < self.near_verbatim <= 1 or not 0 < self.min_k_ratio <= 1:
            raise ValueError("memorization analyzer: near_verbatim and min_k_ratio must lie in (0, 1]")
        return self
