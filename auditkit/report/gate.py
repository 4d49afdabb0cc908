"""The report's gate section: one row per policy rule, with what each regression test could have seen.

A regression rule's row puts the observed worsening next to its minimum detectable regression (80% power
at the run's size and the corrected alpha, see :mod:`auditkit.gate.power`), so a pass on a small audit is
not read as "no regression". Gate entries written by other tools (no ``status``/``id`` per rule) are left
to the generic table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditkit.report.context import Table, fmt

__all__ = ["gate_note", "gate_table"]

_COLUMNS = ("Rule", "Status", "Metric", "Observed", "Baseline", "Worsening", "Detectable", "p", "Message")


def _detectable(rule: Mapping[str, Any]) -> str:
    mdr, detect = rule.get("mdr"), rule.get("detect")
    if mdr is None:
        return "none at this size" if rule.get("difference") is not None else "–"
    text = f"≥ {fmt(mdr, 3)}"
    return text + (f" (must see {fmt(detect, 3)})" if detect is not None else "")


def gate_table(*, rules: Sequence[Mapping[str, Any]]) -> Table | None:
    """The rules as a table, or ``None`` when they are not auditkit gate rules."""
    if not rules or not all("status" in r and "id" in r for r in rules):
        return None
    rows = tuple(
        (
            str(r.get("id")),
            str(r.get("status")),
            str(r.get("selector") or r.get("metric") or "–"),
            fmt(r.get("observed")),
            fmt(r.get("baseline")),
            "–" if r.get("difference") is None else f"{float(r['difference']):+.4g}",
            _detectable(r),
            fmt(r.get("p_value")),
            str(r.get("message") or ""),
        )
        for r in rules
    )
    return Table(caption="Policy rules", columns=_COLUMNS, rows=rows, total=len(rows))


def gate_note(*, rules: Sequence[Mapping[str, Any]]) -> str:
    """A sentence on what the regression tests could see, and on underpowered rules; empty when none."""
    tested = [r for r in rules if r.get("difference") is not None]
    if not tested:
        return ""
    weak = [str(r.get("id")) for r in rules if r.get("underpowered")]
    text = (
        "Detectable: the smallest worsening each regression test would have caught with 80% power at this "
        "audit's size and the corrected alpha; a pass says nothing about regressions smaller than that."
    )
    if weak:
        text += (
            f" Underpowered: {', '.join(weak)} — the audit was too small to see the regression the policy "
            "requires; the rule's message says how many outputs would be needed."
        )
    return text
