"""Analyzer options as pydantic models: one declared, validated record per analyzer.

Options reach an analyzer from a suite (``analyzer_options.toxicity: {threshold: 0.4}``, YAML values)
or the command line (``--analyzer-arg toxicity.threshold=0.4``, always text); pydantic coerces both.
An option the model does not declare is refused, never ignored, so a misspelling cannot pass silently::

    class LengthOptions(AnalyzerOptions):
        analyzer: ClassVar[str] = "length"
        unit: Literal["chars", "words"] = "chars"
        max_chars: int = Field(default=10_000, ge=1)

    options = LengthOptions.parse({"unit": "words"})   # ConfigError (exit 2) naming the field otherwise
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import ConfigDict, ValidationError

from auditkit.plugin_options import PluginOptions, options_error

__all__ = ["AnalyzerOptions"]

OptionsT = TypeVar("OptionsT", bound="AnalyzerOptions")


class AnalyzerOptions(PluginOptions):
    """Base of every analyzer's options model: unknown fields forbidden, values frozen once parsed."""

    # YAML numbers reach text options (a label, a file name) as numbers: read them as text.
    model_config = ConfigDict(coerce_numbers_to_str=True)

    analyzer: ClassVar[str] = "analyzer"
    """The analyzer's registered name, used in error messages."""

    @classmethod
    def parse(cls: type[OptionsT], options: Mapping[str, Any]) -> OptionsT:
        """Validate ``options``; a ``ConfigError`` naming the analyzer, the field and the accepted fields."""
        try:
            return cls.model_validate(dict(options))
        except ValidationError as exc:
            raise options_error(model=cls, kind="analyzer", plugin=cls.analyzer, flag=f"--analyzer-arg {cls.analyzer}.",
                                options=options, error=exc) from None
