"""The report's appendix tables: every metric of a run, one table per analyzer and metric name.

A full bias audit has about a thousand metrics, ~470 of them ``gap`` rows that share one long method
string. One table per metric name states what the rows share (method, unit, ideal value) once, above
the table, and splits the group keys (axis, measure, group_a, group_b...) into their own columns so a
reader can sort and filter by them. Numeric cells carry a sort key (``Cell.sort``) for the report's
optional click-to-sort script; without the script the tables read as plain HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditkit.analyzers.metadata import RunMetricSpecs
from auditkit.report.context import metric_view
from auditkit.report.plain import finite

__all__ = ["Cell", "MetricTable", "metric_tables"]

_GROUP_COLUMNS = 5
"""Group keys shown as their own columns; the rest are joined into one."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell: text the template escapes, and a numeric sort key ("" sorts as text)."""

    text: str
    sort: str = ""


@dataclass(frozen=True, slots=True)
class MetricTable:
    """Every row of one metric name of one analyzer; what all rows share is said once."""

    analyzer: str
    name: str
    description: str
    method: str
    """The method every row shares ("" when it differs by row: then it is a column)."""
    unit: str
    ideal: str
    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[Cell, ...], ...]

    @property
    def anchor(self) -> str:
        return f"table-{self.analyzer}-{self.name}"


def _key(value: Any) -> str:
    return repr(float(value)) if finite(value) else ""


def _group_keys(metrics: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: list[str] = []
    for m in metrics:
        keys.extend(k for k in (m.get("group") or {}) if k not in keys)
    return keys


def _table(analyzer: str, name: str, metrics: Sequence[Mapping[str, Any]], specs: RunMetricSpecs) -> MetricTable:
    spec = specs.spec(metrics[0])
    views = [metric_view(m, spec=spec) for m in metrics]
    keys = _group_keys(metrics)
    own, rest = keys[:_GROUP_COLUMNS], keys[_GROUP_COLUMNS:]
    methods = {v.method for v in views}
    shared_method = methods.pop() if len(methods) == 1 else ""
    has_mde = any(v.mde != "n/a" for v in views)
    columns = [*(own or ["Group"]), *(["Other group keys"] if rest else []), "Value", "95% CI", "n",
               *(["Min. detectable effect"] if has_mde else []), *([] if shared_method else ["Method"])]
    numeric = [False] * (len(own or ["Group"]) + len(rest[:1])) + [True, True, True] + [True] * has_mde + (
        [] if shared_method else [False])
    rows = []
    for m, v in zip(metrics, views, strict=True):
        group = m.get("group") or {}
        cells = [Cell(str(group.get(k, ""))) for k in own] if own else [Cell(v.group)]
        if rest:
            cells.append(Cell(", ".join(f"{k}={group[k]}" for k in rest if k in group)))
        cells += [Cell(v.value, _key(m.get("value"))), Cell(v.interval, _key(m.get("ci_low"))),
                  Cell(v.n, _key(m.get("n") or 0))]
        if has_mde:
            details = m.get("details") or {}
            cells.append(Cell(v.mde, _key(details.get("mde", details.get("minimum_detectable_effect")))))
        if not shared_method:
            cells.append(Cell(v.method))
        rows.append(tuple(cells))
    return MetricTable(
        analyzer=analyzer, name=name, description=spec.description if spec is not None else "",
        method=shared_method, unit=views[0].unit if len({v.unit for v in views}) == 1 else "",
        ideal=views[0].ideal, columns=tuple(columns), numeric=tuple(numeric), rows=tuple(rows),
    )


def metric_tables(*, results: Mapping[str, Any], analyzer: str) -> tuple[MetricTable, ...]:
    """One table per metric name of ``analyzer`` in results.json, in the order the names first appear
    (ungrouped, overall figures before per-group ones within each table)."""
    specs = RunMetricSpecs(results=results)
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for m in results.get("metrics") or []:
        if isinstance(m, Mapping) and m.get("analyzer") == analyzer:
            by_name.setdefault(str(m.get("name", "")), []).append(m)
    return tuple(
        _table(analyzer, name, sorted(items, key=lambda m: bool(m.get("group"))), specs)
        for name, items in by_name.items()
    )
