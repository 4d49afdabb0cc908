"""Sandboxed jinja2 templates for suite prompts, with errors that point into the suite file.

Suites are data that people share, so their templates are untrusted: they render in jinja2's
``ImmutableSandboxedEnvironment`` (no attribute access to Python internals such as ``__class__``, no
mutation of passed-in values) with ``StrictUndefined`` (a misspelt variable is an error, never an empty
string silently sent to the model). Every failure becomes a ``SuiteError`` that names the suite file, the
YAML line, the probe and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from auditkit.errors import SuiteError

__all__ = ["Template", "TemplateOrigin", "compile_template"]

_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


@dataclass(frozen=True, slots=True)
class TemplateOrigin:
    """Where a template's text lives, for error messages."""

    file: str
    """The suite file as shown to the user."""
    line: int
    """1-based YAML line of the field holding the template."""
    probe: str
    """Probe id."""
    field: str
    """Field name inside the probe, e.g. ``prompt``, ``messages[1].content``, ``attributes.source``."""

    def where(self) -> str:
        return f"{self.file}:{self.line}: probe '{self.probe}', field '{self.field}'"


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    # keep_trailing_newline: a prompt ending in "\n" (YAML block scalars) must reach the model unchanged.
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template. ``render`` raises ``SuiteError`` (never a jinja2 exception)."""

    source: str
    """The template text as written in the suite."""
    origin: TemplateOrigin
    variables: frozenset[str]
    """Names the template reads from its context (template variables it does not define itself)."""
    _compiled: jinja2.Template = field(repr=False, compare=False)

    @property
    def is_constant(self) -> bool:
        """True when the text has no jinja2 syntax at all: rendering would return it unchanged."""
        return "{" not in self.source

    def render(self, *, variables: Mapping[str, Any], context: str = "") -> str:
        """The text for these variables. ``context`` (e.g. ``row 3``) is added to error messages."""
        if self.is_constant:
            return self.source
        where = self.origin.where() + (f" ({context})" if context else "")
        try:
            return self._compiled.render(variables)
        except jinja2.exceptions.SecurityError as exc:
            raise SuiteError(
                f"{where}: the template tried to reach Python internals, which suites may not do ({exc}). "
                "Templates can use their variables, filters and tests only."
            ) from None
        except jinja2.UndefinedError as exc:
            match = _UNDEFINED_NAME.match(exc.message or "")
            known = ", ".join(sorted(variables)) or "none"
            problem = f"undefined variable '{match.group(1)}'" if match else f"undefined value: {exc.message}"
            raise SuiteError(
                f"{where}: {problem}. Variables defined here: {known}. Define it in the probe's axes or "
                "rows, or fix the spelling."
            ) from None
        except jinja2.TemplateError as exc:
            raise SuiteError(f"{where}: the template failed to render: {exc}") from None
        except Exception as exc:  # e.g. {{ 1 / 0 }}: user-written template code, reported like any bad input
            raise SuiteError(f"{where}: the template failed to render: {type(exc).__name__}: {exc}") from None


def compile_template(*, source: str, origin: TemplateOrigin) -> Template:
    """Parse and compile ``source``; a syntax error becomes a ``SuiteError`` naming file, line and field."""
    env = _environment()
    try:
        tree = env.parse(source)
        compiled = env.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:
        # The YAML line is where the field starts; the template's own line helps in multi-line prompts.
        inner = f" (template line {exc.lineno})" if source.count("\n") and exc.lineno else ""
        raise SuiteError(
            f"{origin.where()}{inner}: template syntax error: {exc.message}. "
            "Templates use jinja2 syntax: {{ variable }}, {% if ... %}...{% endif %}."
        ) from None
    return Template(
        source=source,
        origin=origin,
        variables=frozenset(meta.find_undeclared_variables(tree)),
        _compiled=compiled,
    )
