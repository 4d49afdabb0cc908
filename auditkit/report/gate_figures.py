"""Baseline vs current for each gated metric (a dumbbell per policy rule, against the rule's limit).

With a policy but no baseline, the rows show this run against the limits; with a baseline but no policy,
the metrics that changed beyond noise. The deciding metric of a rule (the failing one, else the closest
to its limit — the gate's own choice, ``observed``) is the one drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditkit.analyzers.metadata import RunMetricSpecs
from auditkit.report.baseline import Change, Comparison
from auditkit.report.dumbbell import DumbbellRow, dumbbell_chart
from auditkit.report.figure import Figure
from auditkit.report.plain import finite
from auditkit.report.svg import Estimate, Numbers

__all__ = ["gate_figures"]

MAX_RULES = 20
_BLOCKING = {"fail", "underpowered", "error"}


def _num(x: Any) -> float | None:
    return float(x) if finite(x) else None


def _group_label(group: Mapping[str, Any] | None) -> str:
    """As :mod:`auditkit.report.baseline` labels groups, to find a rule's metric among the changes."""
    return "overall" if not group else ", ".join(f"{k}={v}" for k, v in sorted(group.items()))


def _numbers(specs: RunMetricSpecs, analyzer: str, name: str) -> Numbers:
    spec = specs.spec({"analyzer": analyzer, "name": name})
    return Numbers.of(spec)


def _deciding(rule: Mapping[str, Any]) -> Mapping[str, Any]:
    evidence = [e for e in rule.get("evidence") or [] if isinstance(e, Mapping)]
    observed = rule.get("observed")
    return (next((e for e in evidence if e.get("observed") == observed and observed is not None), None)
            or next((e for e in evidence if e.get("passed") is False), None)
            or (evidence[0] if evidence else {}))


def _baseline(entry: Mapping[str, Any], rule: Mapping[str, Any], changes: Mapping[tuple[str, str, str], Change],
              label: str) -> Estimate | None:
    base = entry.get("baseline")
    if isinstance(base, Mapping) and finite(base.get("value")):
        return Estimate(label=label, value=_num(base.get("value")), low=_num(base.get("ci_low")),
                        high=_num(base.get("ci_high")))
    analyzer, _, name = str(rule.get("metric", "")).partition(".")
    change = changes.get((analyzer, name, _group_label(entry.get("group"))))
    if change is None or not finite(change.old):
        return None
    return Estimate(label=label, value=change.old, low=change.old_low, high=change.old_high)


def _rule_row(rule: Mapping[str, Any], specs: RunMetricSpecs,
              changes: Mapping[tuple[str, str, str], Change]) -> DumbbellRow:
    entry = _deciding(rule)
    analyzer, _, name = str(rule.get("metric", "")).partition(".")
    label = str(entry.get("metric") or rule.get("selector") or rule.get("metric") or rule.get("id"))
    numbers = _numbers(specs, analyzer, name)
    current = Estimate(label=label, value=_num(entry.get("value", rule.get("observed"))),
                       low=_num(entry.get("ci_low")), high=_num(entry.get("ci_high")), n=None)
    limit = _num(rule.get("threshold")) if rule.get("comparison") else None
    status = str(rule.get("status") or "")
    detail = f"{rule.get('id')}: {status or '?'}"
    if limit is not None:
        on = "" if rule.get("on") in (None, "value") else f" ({rule.get('on')})"
        detail += f" · must be {rule.get('comparison')} {numbers.show(limit)}{on}"
    count = len(rule.get("evidence") or [])
    if count > 1:
        detail += f" · worst of {count}"
    return DumbbellRow(label=label, detail=detail, current=current, baseline=_baseline(entry, rule, changes, label),
                       limit=limit, numbers=numbers, failed=status in _BLOCKING)


def _change_row(change: Change, specs: RunMetricSpecs) -> DumbbellRow:
    label = f"{change.analyzer}.{change.name}" + ("" if change.group == "overall" else f" {{{change.group}}}")
    return DumbbellRow(
        label=label, detail=change.verdict, numbers=_numbers(specs, change.analyzer, change.name),
        current=Estimate(label=label, value=change.new, low=change.new_low, high=change.new_high),
        baseline=Estimate(label=label, value=change.old, low=change.old_low, high=change.old_high),
        limit=None, failed=change.verdict == "worse")


def _words(row: DumbbellRow) -> str:
    text = f"{row.label} ({row.detail}): now {row.numbers.show(row.current.value)}{row.numbers.interval(row.current)}"
    if row.baseline is not None:
        text += f", baseline {row.numbers.show(row.baseline.value)}{row.numbers.interval(row.baseline)}"
    return text


def gate_figures(*, results: Mapping[str, Any], comparison: Comparison | None) -> list[Figure]:
    gate = results.get("gate")
    rules: Sequence[Mapping[str, Any]] = [
        r for r in (gate.get("rules") or [] if isinstance(gate, Mapping) else []) if isinstance(r, Mapping)
        and "metric" in r and r.get("status") != "skipped"]
    specs = RunMetricSpecs(results=results)
    changes = {(c.analyzer, c.name, c.group): c for c in comparison.changes} if comparison is not None else {}
    if rules:
        ordered = sorted(rules, key=lambda r: str(r.get("status")) not in _BLOCKING)  # failing rules first
        rows = [_rule_row(r, specs, changes) for r in ordered[:MAX_RULES]]
        versus = " and the baseline run" if any(r.baseline is not None for r in rows) else ""
        title = f"Gated metrics: this run{versus} against the policy's limits"
        key = "gate-dumbbell"
    elif comparison is not None:
        moved = [c for c in comparison.changes if c.verdict in ("worse", "better")]
        moved.sort(key=lambda c: (c.verdict != "worse", c.group != "overall", c.analyzer, c.name, c.group))
        if not moved:
            return []
        rows = [_change_row(c, specs) for c in moved[:MAX_RULES]]
        more = f" ({len(rows)} of {len(moved)})" if len(rows) < len(moved) else ""
        title = f"Baseline run vs this run: metrics that changed beyond noise{more}"
        key = "baseline-dumbbell"
    else:
        return []
    alt = f"{title}. " + "; ".join(_words(r) for r in rows) + "."
    return [Figure(title=title, alt=alt, svg=dumbbell_chart(uid=f"fig-{key}", title=title, desc=alt, rows=rows),
                   key=key)]
