"""Options of every plugin as a pydantic model, and the one message a bad option gets.

Adapters take ``--model-arg KEY=VALUE``; analyzers take ``--analyzer-arg NAME.KEY=VALUE`` or a suite's
``analyzer_options``. Both arrive as text (or YAML values) and are validated by the plugin's own model,
a subclass of :class:`PluginOptions`: an option the model does not declare is refused, never ignored, so
a misspelling cannot pass silently, and every refusal reads the same way whichever kind of plugin it is
(the plugin, the option, what was wrong, the options it does take).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from auditkit.errors import ConfigError

__all__ = ["PluginOptions", "options_error"]

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


class PluginOptions(BaseModel):
    """Base of every plugin's options model: unknown fields forbidden, values frozen once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


def options_error(
    *, model: type[BaseModel], kind: str, plugin: str, flag: str, options: Mapping[str, Any], error: ValidationError
) -> ConfigError:
    """One ``ConfigError`` (exit 2) for every problem pydantic found in a plugin's options.

    ``kind`` is ``adapter`` or ``analyzer``; ``flag`` how a user sets one option (``--model-arg ``,
    ``--analyzer-arg toxicity.``), shown before ``KEY=VALUE``.
    """
    known = sorted(model.model_fields)
    valid = (f"Valid options: {', '.join(known)}." if known
             else f"Valid options: none (the {plugin!r} {kind} takes no {flag.split()[0]} options).")
    problems = error.errors()
    unknown = [str(p["loc"][0]) for p in problems if p["type"] == "extra_forbidden" and p["loc"]]
    if unknown:
        names = ", ".join(map(repr, unknown))
        return ConfigError(
            f"Unknown {plugin} option(s) {names}{_hints(unknown, known)}: the {plugin!r} {kind} does not take "
            f"them, and an unknown option is refused rather than ignored. {valid}"
        )
    lines = list(dict.fromkeys(_problem(p, kind=kind, plugin=plugin, flag=flag, options=options) for p in problems))
    return ConfigError("; ".join(lines) + f". {valid}")


def _hints(unknown: Sequence[str], known: Sequence[str]) -> str:
    hints = [f"did you mean {close[0]!r} for {u!r}?" for u in unknown
             if (close := difflib.get_close_matches(u, known, n=1, cutoff=0.6))]
    return f" ({'; '.join(hints)})" if hints else ""


def _problem(problem: Any, *, kind: str, plugin: str, flag: str, options: Mapping[str, Any]) -> str:
    message = (_NUMBER_ERRORS.get(problem["type"]) or str(problem["msg"]).removeprefix("Value error, ")).rstrip(".")
    field = ".".join(str(part) for part in problem["loc"])
    if not field:
        return f"{plugin} {kind} options: {message}"
    shown = options.get(field, problem.get("input"))
    return f"{flag}{field}={shown!r} for the {plugin!r} {kind}: {message}"
