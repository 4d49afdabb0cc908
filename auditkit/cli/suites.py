"""``auditkit suites list|show|validate``: which suites exist, what one resolves to, whether files load."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditkit.cli.app import app

if TYPE_CHECKING:
    from auditkit.records import Prompt
    from auditkit.sources import LoadedSource

__all__ = [
    "list_suites",
    "show_suite",
    "suites_app",
    "validate_suites",
]

suites_app = typer.Typer(
    help="List the built-in probe suites, show what a suite resolves to, validate suite files.",
    no_args_is_help=True,
)
app.add_typer(suites_app, name="suites")


@suites_app.command("list")
def list_suites() -> None:
    """One built-in suite per line: its name, then its description (`cut -d' ' -f1` gives the names)."""
    from auditkit.suites import builtin_suites

    infos = builtin_suites()
    width = max((len(info.name) for info in infos), default=0)
    for info in infos:
        typer.echo(f"{info.name:<{width}}  {info.description}".rstrip())


@suites_app.command("show")
def show_suite(
    ref: Annotated[
        str,
        typer.Argument(metavar="NAME|PATH|SOURCE", help="A built-in suite name, a suite file, or rtp:FILE..."),
    ],
    samples: Annotated[
        int | None, typer.Option("--samples", min=1, help="Count prompts with K samples.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the resolved suite as JSON.")] = False,
) -> None:
    """The resolved suite: includes, defaults, probes with their prompt counts, and its hash."""
    from auditkit.sources import open_source

    loaded = open_source(ref=ref).load(samples=samples, analyzer_options={})
    suite = loaded.suite
    if suite is None:
        _show_source(loaded=loaded, as_json=as_json)
        return
    probes: list[dict[str, Any]] = [
        {
            "suite": probe.suite,
            "id": probe.id,
            "description": probe.description,
            "form": "prompt" if probe.prompt is not None else "messages",
            "axes": [name for name, _ in probe.axes],
            "counterfactual": [axis for axis, _ in probe.counterfactual],
            "rows": len(probe.rows) if probe.row_origins != ("",) else 0,
            "samples": probe.samples_for(samples=samples),
            "analyzers": list(probe.analyzers),
            "generation": dict(probe.generation),
            "prompts": probe.count(samples=samples),
        }
        for probe in suite.probes
    ]
    summary: dict[str, Any] = {
        "id": suite.id,
        "version": suite.version,
        "description": suite.description,
        "source": suite.source,
        "path": str(suite.path),
        "hash": suite.hash,
        "includes": [
            {"id": s.id, "version": s.version, "hash": s.hash, "source": s.source} for s in suite.includes
        ],
        "analyzers": list(suite.analyzers),
        "analyzer_options": suite.analyzer_options,
        "generation": dict(suite.generation),
        "samples": samples or suite.samples,
        "groups": {axis: list(values) for axis, values in suite.groups.items()},
        "probes": probes,
        "prompts": suite.count(samples=samples),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    lines = [
        f"suite      {suite.id} (version {suite.version})",
        f"source     {suite.source}  ({suite.path})",
        f"hash       {suite.hash}",
    ]
    if suite.description:
        lines.append(f"about      {suite.description}")
    for child in suite.includes:
        lines.append(
            f"includes   {child.id} (version {child.version}, {child.source}, hash {child.hash[:12]})"
        )
    lines.append(f"analyzers  {', '.join(suite.analyzers) or '-'}")
    for analyzer, options in suite.analyzer_options.items():
        lines.append(f"options    {analyzer}: {json.dumps(options, ensure_ascii=False)}")
    lines.append(f"generation {json.dumps(dict(suite.generation)) if suite.generation else '-'}")
    lines.append(f"samples    {summary['samples']}")
    for axis, values in suite.groups.items():
        lines.append(f"groups     {axis}: {', '.join(values)}")
    lines.append(f"prompts    {summary['prompts']}")
    lines.append("")
    lines.append("probes (suite/probe  prompts  form  analyzers  variables)")
    for probe in probes:
        variables = [*probe["axes"], *(f"group<{axis}>" for axis in probe["counterfactual"])]
        if probe["rows"]:
            variables.insert(0, f"{probe['rows']} rows")
        pins = f"  pins {json.dumps(probe['generation'])}" if probe["generation"] else ""
        lines.append(
            f"  {probe['suite']}/{probe['id']}  {probe['prompts']}  {probe['form']}  "
            f"{','.join(probe['analyzers']) or '-'}  {', '.join(variables) or '-'}{pins}"
        )
    typer.echo("\n".join(lines))


@suites_app.command("validate")
def validate_suites(
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH", help="Suite files, built-in names or rtp:FILE... references.")
    ],
) -> None:
    """Load and expand each suite; print OK with its prompt count or the error. Exit 2 if any fails."""
    from auditkit.errors import AuditkitError
    from auditkit.sources import load_sources

    failed = 0
    for ref in paths:
        try:
            (loaded,) = load_sources(refs=[ref])
            _check_analyzers(loaded)
        except AuditkitError as error:
            failed += 1
            typer.echo(f"FAIL {ref}\n{error}", err=True)
            continue
        detail = ", ".join(f"{key} {count}" for key, count in _per_template(loaded.prompts).items())
        typer.echo(f"OK {ref}: suite '{loaded.id}', {len(loaded.prompts)} prompts ({detail})")
    if failed:
        typer.echo(f"{failed} of {len(paths)} suites failed validation.", err=True)
        raise typer.Exit(code=2)


def _check_analyzers(loaded: LoadedSource) -> None:
    """A suite naming an analyzer that is not registered would fail at run time: fail validation now."""
    from auditkit.analyzers.base import analyzers
    from auditkit.errors import PluginNotFound

    named = {name for prompt in loaded.prompts for name in prompt.analyzers} | set(loaded.analyzer_options)
    for name in sorted(named):
        try:
            analyzers.get(name)
        except PluginNotFound as error:
            raise PluginNotFound(
                f"suite '{loaded.id}' ({loaded.source}) names an analyzer that does not exist: {error}"
            ) from None


def _per_template(prompts: Sequence[Prompt]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for prompt in prompts:
        key = f"{prompt.suite}/{prompt.template}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _show_source(*, loaded: LoadedSource, as_json: bool) -> None:
    """A prompt source that is not a YAML suite: its manifest entry, analyzers and prompt counts."""
    summary: dict[str, Any] = {
        "id": loaded.id,
        "version": loaded.version,
        "source": loaded.source,
        "hash": loaded.hash,
        "analyzers": sorted({name for prompt in loaded.prompts for name in prompt.analyzers}),
        "analyzer_options": loaded.analyzer_options,
        "generation": dict(loaded.generation),
        "templates": _per_template(loaded.prompts),
        "prompts": len(loaded.prompts),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    lines = [
        f"suite      {loaded.id} (version {loaded.version if loaded.version is not None else '-'})",
        f"source     {loaded.source}",
        f"hash       {loaded.hash or '-'}",
        f"analyzers  {', '.join(summary['analyzers']) or '-'}",
        f"generation {json.dumps(summary['generation']) if summary['generation'] else '-'}",
        f"prompts    {summary['prompts']}",
        "",
        "templates (suite/template  prompts)",
        *(f"  {key}  {count}" for key, count in summary["templates"].items()),
    ]
    typer.echo("\n".join(lines))
