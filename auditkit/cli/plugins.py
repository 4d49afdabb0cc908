"""``auditkit adapters list|show`` and ``auditkit analyzers list|show``: what --model and analyzers take.

``list`` shows built-in factories and those third-party packages register through the entry-point groups
``auditkit.adapters`` / ``auditkit.analyzers``, one per line: the name, then its one-line description.
``show NAME`` lists one plugin's options (from its pydantic options model: type, default, help) and what
it declares: an adapter's abilities, an analyzer's metrics.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer

from auditkit.cli.app import app
from auditkit.errors import ConfigError
from auditkit.registry import Registry

__all__ = [
    "adapters_app",
    "analyzers_app",
    "list_adapters",
    "list_analyzers",
    "plugin_rows",
    "show_adapter",
    "show_analyzer",
]

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
    from auditkit.analyzers.base import analyzer_info, analyzers

    rows = plugin_rows(registry=analyzers)
    # The declared one-line description (the class docstring), not a factory's internal docstring.
    _print([(name, analyzer_info(name=name).description or text) for name, text in rows])


def _options(model: type | None, *, flag: str) -> list[str]:
    from auditkit.cli.options_doc import option_rows

    if model is None:
        return ["options    (not declared: the plugin validates its own options)"]
    rows = option_rows(model=model)
    if not rows:
        return ["options    none"]
    lines = [f"options ({flag})"]
    doc = inspect.getdoc(model) or ""
    if doc and not doc.startswith("Base of"):
        lines.append(f"  {doc.splitlines()[0]}")
    width = max(len(r.name) for r in rows)
    for r in rows:
        lines.append(f"  {r.name:<{width}}  {r.type}, default {r.default}")
        if r.help:
            lines.append(f"  {'':<{width}}    {r.help}")
    return lines


@adapters_app.command("show")
def show_adapter(name: str = typer.Argument(..., help="An adapter scheme, e.g. openai.")) -> None:
    """One adapter: what it runs, its abilities and its --model-arg options with types and defaults."""
    from auditkit.adapters.base import adapters, options_model_of, registered_abilities

    factory = adapters.get(name)
    doc = inspect.getdoc(factory) or ""
    abilities = registered_abilities(name=name)
    flags = [f for f in ("remote", "replayed", "concurrency", "loglikelihood") if getattr(abilities, f)]
    lines = [
        f"adapter    {name}",
        f"what       {doc.splitlines()[0] if doc else '(no description)'}",
        f"abilities  {', '.join(flags) or 'local'}; energy {abilities.energy_source}",
        *_options(options_model_of(factory=factory), flag=f"--model-arg KEY=VALUE, e.g. --model {name}:..."),
    ]
    typer.echo("\n".join(lines))


@analyzers_app.command("show")
def show_analyzer(name: str = typer.Argument(..., help="An analyzer name, e.g. toxicity.")) -> None:
    """One analyzer: what it measures, its --analyzer-arg options with types and defaults, its metrics."""
    from auditkit.analyzers.base import analyzer_info

    info = analyzer_info(name=name)
    lines = [
        f"analyzer   {name} ({info.title})",
        f"what       {info.description or '(no description)'}",
        *_options(info.options_model, flag=f"--analyzer-arg {name}.KEY=VALUE or a suite's analyzer_options"),
        "metrics" if info.metric_specs else "metrics    (none declared)",
    ]
    for spec in info.metric_specs:
        target = f" {spec.target:g}" if spec.target is not None else ""
        unit = f", {spec.unit}" if spec.unit else ""
        lines.append(f"  {spec.name}  ({spec.direction}{target}{unit}) {spec.description}".rstrip())
    typer.echo("\n".join(lines))
