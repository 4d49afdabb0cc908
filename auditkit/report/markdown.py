"""``auditkit report DIR --format markdown``: the report's digest as Markdown, for a model card or an EU AI
Act technical file.

The same content the HTML report leads with (:func:`auditkit.report.summary.build_summary`): verdict,
findings in plain sentences with how sure we are, key metrics with intervals, what could not be detected,
what was not tested, the scorers and their measured quality, and the run's identity. Every string that
comes from results.json is untrusted (it may quote model output): :func:`escape` makes it inert text —
no HTML, no links, no table breaks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from auditkit.report.limits import limit_lines
from auditkit.report.render import load_results, write_report
from auditkit.report.risk import load_risk_map
from auditkit.report.summary import ReportSummary, build_summary
from auditkit.secrets import is_secret_key

__all__ = ["FINDINGS_SHOWN", "escape", "markdown_text", "render_markdown"]

FINDINGS_SHOWN = 15
"""Findings written out in full; the rest are counted (the HTML report has them all)."""

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape(text: Any) -> str:
    """Plain text for Markdown: HTML special characters as entities, Markdown punctuation that could make
    links, emphasis, code or table cells backslash-escaped, line breaks folded to spaces."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _SPECIAL.sub(r"\\\1", value)
    return " ".join(value.split())


def _row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(escape(c) or " " for c in cells) + " |"


def _table(columns: tuple[str, ...], rows: Iterable[Iterable[Any]]) -> list[str]:
    return [_row(columns), "|" + "|".join(" --- " for _ in columns) + "|", *(_row(r) for r in rows)]


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _identity(results: Mapping[str, Any], sha256: str) -> list[str]:
    manifest = _map(results.get("manifest"))
    model, counts = _map(manifest.get("model")), _map(manifest.get("counts"))
    suites = [s for s in manifest.get("suites") or [] if isinstance(s, Mapping)]
    facts = [
        ("Model", model.get("model") or "unknown"),
        ("Adapter", model.get("adapter")),
        ("Revision", model.get("revision")),
        ("Weights hash", model.get("weights_hash")),
        ("Suites", ", ".join(f"{s.get('id')} {s.get('version') or ''}".strip() for s in suites)),
        ("Outputs", counts.get("outputs") or counts.get("prompts")),
        ("Audit started", manifest.get("created_at")),
        ("auditkit version", manifest.get("auditkit_version")),
        ("auditkit commit", manifest.get("git_commit")),
        ("Run status", results.get("status")),
        ("sha256 of results.json", sha256),
    ]
    # Secrets never appear: only these named facts are written, and any whose name marks a secret is dropped.
    return _table(("Fact", "Value"), ((k, v) for k, v in facts if v not in (None, "") and not is_secret_key(name=k)))


def _findings(summary: ReportSummary) -> list[str]:
    if not summary.findings:
        return ["No findings: nothing this audit measured crossed its thresholds (see what it could not detect)."]
    counts: dict[str, int] = {}
    for f in summary.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    order = ("critical", "high", "medium", "low", "info")
    lines = [f"{len(summary.findings)} findings: " + ", ".join(f"{counts[s]} {s}" for s in order if s in counts)
             + ". Most severe first.", ""]
    for i, f in enumerate(summary.findings[:FINDINGS_SHOWN], start=1):
        evidence = ", ".join(f.evidence[:3]) + (" …" if len(f.evidence) > 3 else "")
        lines.append(f"{i}. **{escape(f.severity)}**: {escape(f.sentence)}  ")
        lines.append(f"   *How sure:* {escape(f.how_sure)}  ")
        lines.append(f"   *Analyzer:* {escape(f.analyzer)}"
                     + (f"; *evidence (prompt ids in outputs.jsonl):* {escape(evidence)}" if evidence else ""))
    hidden = len(summary.findings) - FINDINGS_SHOWN
    if hidden > 0:
        lines += ["", f"{hidden} more findings are listed in the HTML report (`auditkit report DIR`)."]
    return lines


def _metrics(summary: ReportSummary) -> list[str]:
    if not summary.key_metrics:
        return ["No run-level metric with an interval."]
    rows = []
    for k in summary.key_metrics:
        unit = k.view.unit if k.view.unit not in ("fraction", "") else ""
        name = f"{k.label} ({k.name})" if k.label else k.name  # the declared label, and the id to look up
        what = f"{k.description} Caution: {k.caveat}" if k.caveat else k.description
        rows.append((k.analyzer, name, f"{k.view.value}{' ' + unit if unit else ''}", k.view.interval,
                     k.view.ideal or "", what))
    return _table(("Analyzer", "Metric", "Value", "95% interval", "Better", "What it measures"), rows)


def _limits(summary: ReportSummary) -> list[str]:
    lines = limit_lines(limits=summary.limits)
    if not lines:
        return ["The results state no detection limits."]
    return [f"- {escape(line)}" for line in lines]


def _not_tested(summary: ReportSummary) -> list[str]:
    risks = [n for n in summary.not_tested if n.kind == "risk"]
    skipped = [n.name for n in summary.not_tested if n.kind == "analyzer"]
    lines = [f"- **{escape(n.name)}**: {escape(n.status)}; {escape(n.detail)}" for n in risks]
    if skipped:
        lines.append(f"- Installed analyzers not run: {escape(', '.join(skipped))}.")
    return lines or ["Every risk of the mapping was covered by an analyzer that ran."]


def _scorers(summary: ReportSummary) -> list[str]:
    if not summary.scorers:
        return ["No scorer identities recorded."]
    rows = ((s.analyzer, s.name, ", ".join(s.versions) or "—",
             " ".join(s.accuracy) or "not measured in this run") for s in summary.scorers)
    return _table(("Analyzer", "Scorer", "Versions", "Measured quality"), rows)


def markdown_text(*, results: Mapping[str, Any], results_sha256: str) -> str:
    """The Markdown digest of one run's results."""
    summary = build_summary(results=results, risk_map=load_risk_map())
    title = escape(_map(_map(results.get("manifest")).get("model")).get("model") or "unknown model")
    verdict = summary.verdict
    parts = [
        [f"# Audit summary: {title}", "",
         "Generated by auditkit from results.json. Plain-language digest; the HTML report "
         "(`auditkit report DIR`) holds every metric, the evidence and the methodology."],
        ["## Verdict", "", f"**{escape(verdict.headline)}.** {escape(verdict.detail)}"],
        ["## What we found", "", *_findings(summary)],
        ["## Key metrics", "", *_metrics(summary)],
        ["## What this audit could not detect", "", *_limits(summary)],
        ["## What was not tested", "", *_not_tested(summary)],
        ["## Scorers and versions", "", *_scorers(summary)],
        ["## Model and run", "", *_identity(results, results_sha256)],
    ]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def render_markdown(*, run_dir: Path, out: Path | None = None) -> Path:
    """Write the Markdown digest of the run in ``run_dir`` (default ``run_dir/report.md``); exit 2 on a
    missing or malformed results.json or an unwritable target."""
    run_dir = Path(run_dir)
    results, raw = load_results(path=run_dir / "results.json")
    text = markdown_text(results=results, results_sha256=hashlib.sha256(raw).hexdigest())
    return write_report(target=Path(out) if out is not None else run_dir / "report.md", text=text)
