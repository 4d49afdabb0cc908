"""Render ``report.html`` from a run directory: results.json plus the rows it needs from outputs.jsonl.

One self-contained file: CSS and one small script inlined under a hash-based Content Security Policy
(``default-src 'none'``; the style and the script are allowed by their sha256 only), charts as inline
SVG, offensive text folded behind ``<details>``. The script only adds click-to-sort headers and a filter
box to the appendix tables; everything reads without it. Templates
live in ``reports/`` (see :func:`auditkit.resources.data_dir`) and run in jinja2's sandbox with
autoescaping on: model output is untrusted and is never marked safe.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.analyzers.metadata import declared_output_fields
from auditkit.errors import InputError
from auditkit.report.baseline import Comparison, compare_runs
from auditkit.report.context import (
    SECTION_FIGURES,
    analyzer_views,
    evidence_ids,
    finding_views,
    fmt,
)
from auditkit.report.evidence import TEXT_LIMIT, scan_outputs, score_labels
from auditkit.report.figures import comparison_figures
from auditkit.report.instruments import instrument_views
from auditkit.report.lead import lead_view
from auditkit.report.manifest import manifest_tables
from auditkit.report.metric_tables import metric_tables
from auditkit.report.risk import load_risk_map
from auditkit.report.summary import build_summary
from auditkit.resources import data_dir, package_file

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = ["load_results", "render_report", "write_report"]


def load_results(*, path: Path) -> tuple[dict[str, Any], bytes]:
    """Parse results.json (and return its bytes, for the manifest's hash); exit 2 with a clear message."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no results.json here; pass the --out folder of an `auditkit run`.") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc}).") from exc
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno}, column {exc.colno}: " if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(f"{path}: {where}not valid JSON ({exc}); re-run the audit to rewrite it.") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object with manifest, metrics, findings and analyses.")
    for key, kind in (("metrics", list), ("findings", list), ("analyses", dict), ("manifest", dict)):
        if key in data and data[key] is not None and not isinstance(data[key], kind):
            raise InputError(f"{path}: field '{key}' must be a JSON {kind.__name__}.")
    return data, raw


def _verdict(results: Mapping[str, Any]) -> dict[str, Any]:
    gate = results.get("gate")
    if not isinstance(gate, Mapping):
        return {"state": "none", "headline": "No release policy applied",
                "detail": "Results are reported without a pass/fail decision. "
                          "Apply one with `auditkit gate DIR --policy FILE`.", "rules": None, "note": "",
                "policy": None}
    passed = gate.get("passed")
    if passed is None:
        word = str(gate.get("status") or gate.get("decision") or gate.get("verdict") or "").lower()
        passed = True if word in ("pass", "passed", "ok") else False if word in ("fail", "failed") else None
    policy = gate.get("policy")
    if isinstance(policy, Mapping):
        policy = policy.get("name") or policy.get("path") or policy.get("id")
    rules = next((gate[k] for k in ("rules", "checks", "results") if isinstance(gate.get(k), list)), None)
    table, note = None, ""
    if rules:
        from auditkit.report.context import generic_tables
        from auditkit.report.gate import gate_note, gate_table

        mapped = [r for r in rules if isinstance(r, Mapping)]
        table = gate_table(rules=mapped)
        if table is None:  # a gate entry written by another tool: show whatever its rules carry
            tables = generic_tables(summary={"rules": mapped})
            table = tables[0] if tables else None
        note = gate_note(rules=mapped)
    state = "pass" if passed else "fail" if passed is False else "none"
    headline = {"pass": "Passed the release policy", "fail": "Failed the release policy",
                "none": "Policy result unclear"}[state]
    detail = str(gate.get("summary") or gate.get("message") or "")
    return {"state": state, "headline": headline, "detail": detail, "rules": table, "note": note,
            "policy": None if policy is None else str(policy)}


def _methodology(results: Mapping[str, Any], ran: list[str]) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(package_file("data/methodology.yaml").read_text(encoding="utf-8"))
    sections = [dict(data["analyzers"][n], name=n) for n in ran if n in data["analyzers"]]
    for section in sections:
        # An analyzer may describe what this very run measured (e.g. which energy counter, or why none).
        summary = ((results.get("analyses") or {}).get(section["name"]) or {}).get("summary") or {}
        text = summary.get("methodology")
        section["this_run"] = [p.strip() for p in str(text).split("\n\n") if p.strip()] if text else []
    unknown = [n for n in ran if n not in data["analyzers"]]
    return {"general": data["general"], "sections": sections, "plugins": unknown,
            "energy_labels": data["analyzers"]["energy"]["labels"]}


def _inline(name: str) -> tuple[str, str]:
    """A shipped file to inline in the page, and its CSP source expression (its sha256)."""
    text = (data_dir("reports") / name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return text, f"'sha256-{digest}'"


def _environment() -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(data_dir("reports"))),
        autoescape=select_autoescape(enabled_extensions=("html", "j2", "svg"), default_for_string=True, default=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["score_labels"] = score_labels
    return env


def render_report(*, run_dir: Path, baseline_dir: Path | None = None, out: Path | None = None) -> Path:
    """Write the HTML report of the run in ``run_dir`` (default ``run_dir/report.html``) and return its path.

    Reads ``results.json`` and streams ``outputs.jsonl`` (only the rows shown are kept), so it works on
    any finished or partial run and re-renders without the model.
    """
    run_dir = Path(run_dir)
    results, raw = load_results(path=run_dir / "results.json")
    results_sha = hashlib.sha256(raw).hexdigest()
    findings = [f for f in results.get("findings") or [] if isinstance(f, Mapping)]
    wanted, paired = evidence_ids(findings)
    outputs_path = run_dir / "outputs.jsonl"
    fields = [f for name in sorted(map(str, results.get("analyses") or {})) for f in declared_output_fields(name=name)]
    scan = scan_outputs(path=outputs_path, wanted=wanted, pair_ids=paired, fields=fields)
    risk_map = load_risk_map()
    fviews = finding_views(findings=findings, scan=scan, risk_map=risk_map)
    sections = analyzer_views(results=results, scan=scan, risk_map=risk_map, findings=fviews)
    ran = [s.name for s in sections]
    coverage = risk_map.coverage(analyzers_run=ran, findings=findings)
    comparison: Comparison | None = None
    if baseline_dir is not None:
        baseline, _ = load_results(path=Path(baseline_dir) / "results.json")
        comparison = compare_runs(current=results, baseline=baseline)
    manifest: Mapping[str, Any] = results.get("manifest") or {}
    raw_model, raw_counts = manifest.get("model"), manifest.get("counts")
    model: Mapping[str, Any] = raw_model if isinstance(raw_model, Mapping) else {}
    counts: Mapping[str, Any] = raw_counts if isinstance(raw_counts, Mapping) else {}
    summary = build_summary(results=results, risk_map=risk_map)
    css, css_hash = _inline("report.css")
    script, script_hash = _inline("report.js")
    context = {
        "css": css,
        "script": script,
        "csp": f"default-src 'none'; style-src {css_hash}; script-src {script_hash}; img-src data:; "
               "base-uri 'none'; form-action 'none'",
        "model": model,
        "model_label": str(model.get("model") or "unknown model"),
        "created_at": str(manifest.get("created_at") or "unknown date"),
        "rendered_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": str(results.get("status") or "unknown"),
        "schema_version": str(results.get("schema_version") or "?"),
        "auditkit_version": str(manifest.get("auditkit_version") or "?"),
        # The summary words the verdict (the Markdown export says the same); the rules table is laid out here.
        "verdict": dict(_verdict(results), headline=summary.verdict.headline,
                        **({"detail": summary.verdict.detail} if isinstance(results.get("gate"), Mapping) else {})),
        "counts": {"prompts": counts.get("prompts", scan.rows), "outputs": scan.rows,
                   "errors": counts.get("errors", scan.errors), "cached": counts.get("cached", scan.cached)},
        "error_examples": scan.error_examples,
        "lead": lead_view(summary=summary, findings=fviews),
        "plain_sentences": {p.finding_index: p.sentence for p in summary.findings},
        "findings_total": len(fviews),
        "severity_counts": {s: sum(1 for f in fviews if f.severity == s)
                            for s in ("critical", "high", "medium", "low", "info")},
        "sections": sections,
        "metric_tables": {s.name: metric_tables(results=results, analyzer=s.name) for s in sections},
        "instruments": instrument_views(results=results),
        "coverage": coverage,
        "risk_names": {r.id: f"NIST {r.section} {r.name}" for r in risk_map.risks},
        "frameworks": risk_map.frameworks,
        "comparison": comparison,
        "section_figures": SECTION_FIGURES,
        "comparison_figures": comparison_figures(results=results, comparison=comparison),
        "baseline_dir": str(baseline_dir) if baseline_dir else None,
        "methodology": _methodology(results, ran),
        "manifest_tables": manifest_tables(manifest=manifest, results_sha256=results_sha,
                                           results_name="results.json"),
        "results_sha256": results_sha,
        "outputs_present": outputs_path.exists(),
        "sample": scan.sample,
        "text_limit": TEXT_LIMIT,
    }
    html = _environment().get_template("report.html.j2").render(**context)
    return write_report(target=Path(out) if out is not None else run_dir / "report.html", text=html)


def write_report(*, target: Path, text: str) -> Path:
    """Write a rendered report (HTML or Markdown); exit 2 naming the file when it cannot be written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{target}: cannot write the report ({exc}); choose another --out.") from exc
    return target
