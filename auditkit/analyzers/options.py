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

import difflib
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from auditkit.errors import ConfigError

__all__ = ["AnalyzerOptions", "options_error"]

OptionsT = TypeVar("OptionsT", bound="AnalyzerOptions")

_NUMBER_ERRORS = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
}


class AnalyzerOptions(BaseModel):
    """Base of every analyzer's options model: unknown fields forbidden, values frozen once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True, protected_namespaces=())

    analyzer: ClassVar[str] = "analyzer"
    """The analyzer's registered name, used in error messages."""

    @classmethod
    def parse(cls: type[OptionsT], options: Mapping[str, Any]) -> OptionsT:
        """Validate ``options``; a ``ConfigError`` naming the analyzer, the field and the accepted fields."""
        try:
            return cls.model_validate(dict(options))
        except ValidationError as exc:
            raise options_error(model=cls, error=exc) from None


def options_error(*, model: type[AnalyzerOptions], error: ValidationError) -> ConfigError:
    """One message for every problem pydantic found in an analyzer's options."""
    name = model.analyzer
    known = sorted(model.model_fields)
    unknown = [str(e["loc"][0]) for e in error.errors() if e["type"] == "extra_forbidden" and e["loc"]]
    if unknown:
        hints = [
            f"did you mean {close[0]!r} for {u!r}?"
            for u in unknown
            if (close := difflib.get_close_matches(u, known, n=1, cutoff=0.6))
        ]
        return ConfigError(
            f"Unknown {name} option(s) {', '.join(unknown)}"
            + (f" ({'; '.join(hints)})" if hints else "")
            + f". An unknown option is refused rather than ignored; the {name} analyzer accepts: "
            f"{', '.join(known)}."
        )
    problems = []
    for e in error.errors():
        message = _NUMBER_ERRORS.get(e["type"]) or str(e["msg"]).removeprefix("Value error, ")
        field = ".".join(str(p) for p in e["loc"])
        if field:
            shown = e.get("input")
            problems.append(f"{name} option {field}={shown!r} {message}" if e["type"] in _NUMBER_ERRORS
                            else f"{name} option {field}: {message}")
        else:
            problems.append(message)
    return ConfigError("; ".join(dict.fromkeys(problems)) + ("" if problems[-1].endswith(".") else "."))
