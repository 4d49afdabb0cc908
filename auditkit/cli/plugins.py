"""``auditkit adapters list`` and ``auditkit analyzers list``: what can be named in --model and analyzers.

Both list built-in factories and those third-party packages register through the entry-point groups
``auditkit.adapters`` / ``auditkit.analyzers``, one per line: the name, then the first line of the
factory's docstring.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer

from auditkit.cli.app import app
from auditkit.errors import ConfigError
from auditkit.registry import Registry

__all__ = ["adapters_app", "analyzers_app", "list_adapters", "list_analyzers", "plugin_rows"]

adapters_app = typer.Typer(
    help="Model adapters: the schemes --model accepts (hf:, openai:, replay:...).", no_args_is_help=True
)
analyzers_app = typer.Typer(
    help="Analyzers: what scores outputs (toxicity, bias, memorization, energy).", no_args_is_help=True
)
app.add_typer(adapters_app, name="adapters")
app.add_typer(analyzers_app, name="analyzers")


def plugin_rows(*, registry: Registry[Any]) -> list[tuple[str, str]]:
    """``(name, one-line description)`` for every factory in ``registry``, sorted by name."""
    try:
        names = registry.names()
    except ImportError as exc:  # a built-in module that does not import is a broken installation
        raise ConfigError(
            f"A built-in {registry.kind} module could not be imported ({exc}); reinstall auditkit."
        ) from exc
    rows = []
    for name in names:
        doc = inspect.getdoc(registry.get(name)) or ""
        first = next((line.strip() for line in doc.splitlines() if line.strip()), "(no description)")
        rows.append((name, first))
    return rows


def _print(rows: list[tuple[str, str]]) -> None:
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        typer.echo(f"{name:<{width}}  {description}".rstrip())


@adapters_app.command("list")
def list_adapters() -> None:
    """One adapter scheme per line: its name, then what it runs (`cut -d' ' -f1` gives the names)."""
    from auditkit.adapters.base import adapters

    _print(plugin_rows(registry=adapters))


@analyzers_app.command("list")
def list_analyzers() -> None:
    """One analyzer per line: its name, then what it measures (`cut -d' ' -f1` gives the names)."""
    from auditkit.analyzers.base import analyzers

    _print(plugin_rows(registry=analyzers))
