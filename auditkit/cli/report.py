"""``auditkit report DIR``: re-render the HTML report of a finished (or partial) run from its results alone."""

from __future__ import annotations

from pathlib import Path

import typer

from auditkit.cli.app import app

__all__ = ["report"]


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="Output folder of `auditkit run` (holds results.json, outputs.jsonl)."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Another run's folder to compare against."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the HTML (default DIR/report.html)."),
) -> None:
    """Render DIR/report.html: one offline HTML file with findings, evidence, methodology and manifest."""
    from auditkit.report.render import render_report

    path = render_report(run_dir=run_dir, baseline_dir=baseline, out=out)
    typer.echo(f"report: {path}")
