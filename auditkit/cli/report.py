"""``auditkit report DIR``: re-render the report of a finished (or partial) run from its results alone —
the HTML report (default) or, with ``--format markdown``, its Markdown digest for a model card."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from auditkit.cli.app import app

__all__ = ["ReportFormat", "report"]


class ReportFormat(StrEnum):
    """What `auditkit report` writes."""

    html = "html"
    markdown = "markdown"


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="Output folder of `auditkit run` (holds results.json, outputs.jsonl)."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Another run's folder to compare against."),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write the report (default DIR/report.html, or DIR/report.md for markdown)."),
    format: ReportFormat = typer.Option(
        ReportFormat.html, "--format",
        help="html: the full offline report; markdown: a concise digest (findings, key metrics, limits, "
             "scorers) for a model card or technical file."),
) -> None:
    """Render DIR/report.html: one offline HTML file with findings, evidence, methodology and manifest."""
    if format is ReportFormat.markdown:
        from auditkit.report.markdown import render_markdown

        if baseline is not None:
            typer.echo("report: --baseline is shown in the HTML report only; ignored for markdown.", err=True)
        path = render_markdown(run_dir=run_dir, out=out)
    else:
        from auditkit.report.render import render_report

        path = render_report(run_dir=run_dir, baseline_dir=baseline, out=out)
    typer.echo(f"report: {path}")
