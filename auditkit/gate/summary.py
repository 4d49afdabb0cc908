"""The gate decision as Markdown: a pull-request comment or a ``$GITHUB_STEP_SUMMARY`` section.

A headline verdict, one table row per rule, then the failures and warnings with their evidence (folded
in ``<details>`` so the comment stays short). Every regression row shows the observed worsening next to
the smallest regression the comparison could have detected ("Detectable", 80% power after the
correction), so a pass on a small audit reads as what it is. Table cells are escaped: ``|`` would break the table and
GitHub renders raw HTML in Markdown.
"""

from __future__ import annotations

import re
from typing import Any

from auditkit.gate.evaluate import GateDecision, RuleResult
from auditkit.gate.junit import evidence_lines

__all__ = ["markdown_summary"]

_ICON = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "underpowered": "🔍 underpowered",
    "error": "⛔ error",
    "warn": "⚠️ warn",
    "skipped": "⏭️ skipped",
}


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_SYMBOL = {"<=": "≤", ">=": "≥", "<": "<", ">": ">"}


def _cell(text: Any) -> str:
    # Only '<' that could open an HTML tag is escaped, so "value < 0.1" stays readable in raw Markdown.
    return _TAG_START.sub("&lt;", str(text)).replace("|", "\\|").replace("\n", " ")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4g}"


def _detectable(rule: RuleResult) -> str:
    if rule.mdr is None:
        return "-" if rule.difference is None else "none at this size"
    text = f"≥ {rule.mdr:.3g}"
    if rule.detect is not None:
        text += f" (needs ≤ {rule.detect:g})"
    return text


def _check(rule: RuleResult) -> str:
    parts = []
    if rule.comparison is not None:
        parts.append(f"{rule.on} {_SYMBOL[rule.comparison]} {rule.threshold:g}")
    if rule.regression:
        spec = rule.regression
        allowed = (
            f"+{spec['max_relative_increase']:.0%}"
            if spec.get("max_relative_increase") is not None
            else f"+{spec['max_increase']:g}"
        )
        worse = "higher" if spec["direction"] == "higher_is_worse" else "lower"
        must = f", must detect +{spec['detect']:g}" if spec.get("detect") is not None else ""
        parts.append(f"not significantly {worse} than baseline {allowed} (α={spec['alpha']:g}{must})")
    return "; ".join(parts)


def markdown_summary(*, decision: GateDecision) -> str:
    """The Markdown text (ends with a newline)."""
    counts = decision.counts
    verdict = "✅ auditkit gate passed" if decision.passed else "❌ auditkit gate failed"
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines = [f"## {verdict}: {_cell(decision.name)}", ""]
    meta = f"Policy `{_cell(decision.policy)}` · {len(decision.rules)} rules: {tally}"
    if decision.baseline:
        b = decision.baseline
        where = f" `{_cell(b['run'])}`" if b.get("run") else ""
        meta += (
            f" · baseline{where} ({_cell(b.get('model') or 'unknown model')}, "
            f"{_cell(b.get('created_at') or 'unknown date')}); p-values {decision.correction}-adjusted"
        )
    lines += [meta, ""]
    lines += [
        "| Status | Rule | Metric | Check | Observed | Baseline | Worsening | Detectable | p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for rule in decision.rules:
        lines.append(
            f"| {_ICON[rule.status]} | {_cell(rule.id)} | `{_cell(rule.selector or '-')}` "
            f"| {_cell(_check(rule) or '-')} "
            f"| {_num(rule.observed)} | {_num(rule.baseline)} | {_signed(rule.difference)} "
            f"| {_detectable(rule)} | {_num(rule.p_value)} |"
        )
    if any(r.regression for r in decision.rules) and decision.baseline:
        lines += [
            "",
            "*Detectable*: the smallest worsening each regression test would have caught with 80% power at "
            "this audit's size and the corrected alpha; a pass says nothing about smaller regressions.",
        ]
    for title, statuses in (("Failures", ("fail", "underpowered", "error")), ("Warnings", ("warn",))):
        chosen = [r for r in decision.rules if r.status in statuses]
        if not chosen:
            continue
        lines += ["", f"### {title}", ""]
        for rule in chosen:
            lines.append(f"- **{_cell(rule.id)}** ({_ICON[rule.status]}): {_cell(rule.message)}")
            evidence = evidence_lines(rule)
            if evidence:
                lines += ["  <details><summary>evidence</summary>", ""]
                lines += [f"  - {_cell(e)}" for e in evidence]
                lines += ["", "  </details>"]
    for note in decision.notes:
        lines += ["", f"> {_cell(note)}"]
    return "\n".join(lines) + "\n"
