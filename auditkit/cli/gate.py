"""``auditkit gate DIR --policy FILE`` and ``auditkit diff OLD NEW``: a thin layer over :mod:`auditkit.gate`.

``gate`` writes ``DIR/junit.xml`` and ``DIR/summary.md``, records the decision in ``DIR/results.json``
(atomically), appends the summary to ``$GITHUB_STEP_SUMMARY`` when that is set, and exits 0 (passed),
1 (a blocking rule failed) or 2 (bad policy, incomparable baseline, unreadable run).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from auditkit.cli.app import app

if TYPE_CHECKING:
    from auditkit.gate.diff import RunDiff

__all__ = ["diff", "gate"]

_MARK = {
    "pass": "PASS",
    "fail": "FAIL",
    "underpowered": "UNDER",
    "error": "ERROR",
    "warn": "WARN",
    "skipped": "SKIP",
}


@app.command("gate")
def gate(
    run_dir: Path = typer.Argument(..., help="Output folder of `auditkit run` (holds results.json)."),
    policy: str = typer.Option(
        ..., "--policy", help="Policy YAML file, or a built-in policy name (release, ci-regression, toxicity-release)."
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="Earlier run folder: test for significant regressions."
    ),
    junit: Path | None = typer.Option(None, "--junit", help="JUnit XML output (default DIR/junit.xml)."),
    summary: Path | None = typer.Option(
        None, "--summary", help="Markdown summary output (default DIR/summary.md)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the verdict line."),
) -> None:
    """Apply a policy to a finished run; exit 1 when a blocking rule fails, 0 otherwise (warnings allowed)."""
    from auditkit.engine.results import RESULTS_FILE, load_results, write_json_atomic
    from auditkit.errors import GateFailed
    from auditkit.gate import evaluate_policy, write_gate_outputs
    from auditkit.gate.policy import resolve_policy

    results = load_results(run_dir=run_dir)
    decision = evaluate_policy(
        results=results.data, policy_path=resolve_policy(ref=policy), baseline_dir=baseline
    )
    earlier = _earlier_gate(results.data, run_dir=run_dir, junit=junit, summary=summary)
    files = write_gate_outputs(decision=decision, run_dir=run_dir, junit=junit, summary=summary)
    write_json_atomic(path=run_dir / RESULTS_FILE, data={**results.data, "gate": decision.to_dict()})
    if earlier:  # a second gate (another policy?) replaces the first one's outputs: say so
        typer.echo(f"auditkit: note: overwrote the previous gate outputs: {earlier}.", err=True)
    if not quiet:
        for rule in decision.rules:
            typer.echo(f"{_MARK[rule.status]:5} {rule.id}: {rule.message}")
        typer.echo(f"junit:   {files.junit}\nsummary: {files.summary}")
    counts = ", ".join(f"{n} {s}" for s, n in decision.counts.items() if n)
    if not decision.passed:
        failed = [r.id for r in decision.rules if r.blocking]
        raise GateFailed(
            f"The gate failed ({decision.policy}): {len(failed)} blocking rule(s): "
            f"{', '.join(failed)} ({counts}). Details: {files.summary}"
        )
    typer.echo(f"The gate passed ({decision.policy}): {counts}.")


def _earlier_gate(data: Mapping[str, Any], *, run_dir: Path, junit: Path | None, summary: Path | None) -> str:
    """What an earlier gate left that this one replaces, e.g. "results.json's gate (policy release), junit.xml"."""
    from auditkit.gate.outputs import JUNIT_FILE, SUMMARY_FILE

    found = []
    previous = data.get("gate")
    if isinstance(previous, dict):
        found.append(f"results.json's gate (policy {previous.get('policy') or '?'})")
    for path in (junit or run_dir / JUNIT_FILE, summary or run_dir / SUMMARY_FILE):
        if path.is_file():
            found.append(str(path))
    return ", ".join(found)


@app.command("diff")
def diff(
    old: Path = typer.Argument(..., help="The earlier run folder (baseline)."),
    new: Path = typer.Argument(..., help="The later run folder."),
    output_format: str = typer.Option("table", "--format", help="table, markdown or json."),
    changed_only: bool = typer.Option(False, "--changed", help="Show only significant changes."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (Holm-adjusted across metrics)."),
    fail_on: str = typer.Option(
        "none", "--fail-on",
        help="Exit 1 on: regression (a significant change for the worse, by the metric's declared "
        "direction), change (any significant change) or none.",
    ),
) -> None:
    """Compare two runs metric by metric: old, new, difference, the smallest change the comparison could
    detect (80% power, after Holm), two-sided p (Holm-adjusted), verdict.

    Exit codes: 0 done; 1 with --fail-on when a metric regressed (or changed) significantly; 2 bad input."""
    from auditkit.engine.results import load_results
    from auditkit.errors import ConfigError, GateFailed
    from auditkit.gate.diff import diff_runs

    if output_format not in ("table", "markdown", "json"):
        raise ConfigError(f"--format {output_format!r}: use table, markdown or json.")
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha {alpha}: must lie strictly between 0 and 1.")
    result = diff_runs(old=load_results(run_dir=old).data, new=load_results(run_dir=new).data, alpha=alpha)
    failing = result.failing(fail_on=fail_on)
    _print_diff(result=result, old=old, new=new, output_format=output_format, changed_only=changed_only)
    if failing:
        shown = "; ".join(f"{c.metric} {c.old:.4g} → {c.new:.4g} (p {c.p_value:.3g})" for c in failing[:5])
        raise GateFailed(
            f"diff --fail-on {fail_on}: {len(failing)} significant "
            f"{'regression(s)' if fail_on == 'regression' else 'change(s)'} at alpha {alpha:g} "
            f"(Holm-adjusted): {shown}{' ...' if len(failing) > 5 else ''}"
        )


def _print_diff(*, result: RunDiff, old: Path, new: Path, output_format: str, changed_only: bool) -> None:
    alpha = result.alpha
    changes = [c for c in result.changes if not changed_only or c.verdict in ("increased", "decreased")]
    if output_format == "json":
        typer.echo(json.dumps({**result.to_dict(), "changes": [c.to_dict() for c in changes]}, indent=2))
        return
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)

    def num(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.4g}"

    header = ["metric", "old", "new", "difference", "detectable", "p (Holm)", "verdict"]
    rows = [
        [
            c.metric,
            num(c.old),
            num(c.new),
            "n/a" if c.difference is None else f"{c.difference:+.4g}",
            "n/a" if c.mdr is None else f"±{c.mdr:.3g}",
            num(c.p_value),
            c.verdict,
        ]
        for c in changes
    ]
    if output_format == "markdown":
        typer.echo("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in rows:
            typer.echo("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*header, title=f"{old} → {new} (alpha {alpha:g}, two-sided, Holm-adjusted)")
    for row in rows:
        table.add_row(*row)
    Console(width=max(120, len(max((r[0] for r in rows), key=len, default="")) + 60)).print(table)
