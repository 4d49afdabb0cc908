"""``auditkit prompts``: expand prompt sources into the Prompt JSONL contract, without running any model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditkit.cli.app import app

if TYPE_CHECKING:
    from auditkit.records import Prompt
    from auditkit.sources import LoadedSource

__all__ = ["prompts"]


@app.command("prompts")
def prompts(
    out: Annotated[
        str, typer.Option("--out", "-o", metavar="FILE.jsonl", help="Where to write; '-' for stdout.")
    ],
    suites: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SUITE",
            help="Built-in suite names, suite files or other prompt sources (rtp:FILE, corpus:FILE...).",
        ),
    ] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", min=1, help="Samples per prompt (probe pins win).")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="Reference corpus: add its memorization prompts (as `run --corpus`).")
    ] = None,
    analyzer_arg: Annotated[
        list[str] | None,
        typer.Option(help="NAME.KEY=VALUE, as for `run` (e.g. memorization.prefix_words=16 splits the corpus)."),
    ] = None,
) -> None:
    """Write every prompt of the SUITEs (and of --corpus) as JSON lines (the Prompt JSONL format)."""
    from auditkit.engine.plan import parse_analyzer_args
    from auditkit.errors import ConfigError
    from auditkit.sources import load_sources

    refs = [*(suites or []), *([f"corpus:{corpus}"] if corpus is not None else [])]
    if not refs:
        raise ConfigError("Nothing to write: give at least one suite (e.g. 'standard') or --corpus FILE.")
    loaded = load_sources(
        refs=refs, samples=samples, analyzer_options=parse_analyzer_args(args=analyzer_arg or ())
    )
    records = _merge([source.prompts for source in loaded])
    _write(out=out, records=records, settings=_effective_generation(loaded))
    if out != "-":
        names = ", ".join(source.id for source in loaded)
        typer.echo(f"wrote {len(records)} prompts from {names} to {out}", err=True)


def _merge(batches: Sequence[Sequence[Prompt]]) -> list[Prompt]:
    """Prompts in order; one reached twice (via ``standard`` and ``bias``) comes once."""
    from auditkit.errors import SuiteError

    merged: dict[str, Prompt] = {}
    for batch in batches:
        for prompt in batch:
            first = merged.setdefault(prompt.id, prompt)
            if first != prompt:
                raise SuiteError(
                    f"Prompt {prompt.id} (suite '{prompt.suite}', probe '{prompt.template}') differs between "
                    "two of the suites given: they define one suite id differently. Run them separately."
                )
    return list(merged.values())


def _effective_generation(loaded: Sequence[LoadedSource]) -> dict[str, dict[str, Any]]:
    """Each prompt's resolved decoding settings (suite defaults < probe pins), as `run` would use them:
    an external generator making a replay file needs them, not just the probe's pins."""
    from auditkit.engine.plan import resolve_generation

    settings: dict[str, dict[str, Any]] = {}
    for source in loaded:
        resolved: dict[tuple[str, str], dict[str, Any]] = {}
        for prompt in source.prompts:
            key = (prompt.suite, repr(sorted(prompt.generation.items())))
            if key not in resolved:
                config = resolve_generation(
                    suite=source.generation_for(suite_id=prompt.suite), pins=prompt.generation,
                    where=f"suite {source.id!r}, probe {prompt.template!r}",
                )
                resolved[key] = config.to_dict()
            settings.setdefault(prompt.id, resolved[key])
    return settings


def _write(*, out: str, records: Sequence[Prompt], settings: Mapping[str, Mapping[str, Any]]) -> None:
    import json
    import os
    import sys
    import tempfile

    from auditkit.errors import InputError

    lines = "".join(
        json.dumps({**record.to_dict(), "generation": dict(settings[record.id])}, ensure_ascii=False) + "\n"
        for record in records
    )
    if out == "-":
        sys.stdout.write(lines)
        return
    target = Path(out)
    if target.is_dir():
        raise InputError(f"--out {out}: is a directory; give a file name such as {target / 'prompts.jsonl'}.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: an interrupted run never leaves a half-written prompt file behind.
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(lines)
        os.replace(temp, target)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write: {exc}") from None
