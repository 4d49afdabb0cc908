"""``auditkit prompts``: expand suites into the Prompt JSONL contract, without running any model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditkit.cli.app import app

__all__ = ["prompts"]


@app.command("prompts")
def prompts(
    suites: Annotated[
        list[str], typer.Argument(metavar="SUITE", help="Built-in suite names or suite files.")
    ],
    out: Annotated[
        str, typer.Option("--out", "-o", metavar="FILE.jsonl", help="Where to write; '-' for stdout.")
    ],
    samples: Annotated[
        int | None, typer.Option("--samples", min=1, help="Samples per prompt (probe pins win).")
    ] = None,
) -> None:
    """Write every prompt of the SUITEs as JSON lines (the Prompt JSONL format)."""
    import json
    import os
    import sys
    import tempfile

    from auditkit.errors import InputError
    from auditkit.suites import expand_suites, load_suite

    loaded = [load_suite(ref=ref) for ref in suites]
    records = expand_suites(suites=loaded, samples=samples)
    lines = "".join(json.dumps(record.to_dict(), ensure_ascii=False) + "\n" for record in records)
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
    names = ", ".join(suite.id for suite in loaded)
    typer.echo(f"wrote {len(records)} prompts from {names} to {out}", err=True)
