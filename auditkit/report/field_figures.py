"""Charts of the per-output fields an analyzer declares (:class:`~auditkit.analyzers.output_fields.OutputField`):
the values' distribution and their mean by probe, read from the report's scan of outputs.jsonl.

Energy declares ``energy_j`` and gets joules per output and by probe; a plugin declaring a field gets
the same two charts. Both are binned or capped, so their size does not grow with the number of outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditkit.analyzers.output_fields import OutputField
from auditkit.report.distribution import bin_values, histogram_plot
from auditkit.report.evidence import FieldTally, OutputScan
from auditkit.report.figure import Figure
from auditkit.report.forest import forest_plot
from auditkit.report.svg import Estimate, Numbers, slug

__all__ = [
    "field_figures",
    "probe_means",
]

MAX_PROBES = 15


def probe_means(tally: FieldTally) -> list[tuple[str, float | None, list[float]]]:
    """``(probe, mean value or None, [sum, outputs with a figure, outputs])``, highest mean first."""
    probes = [(k, t[0] / t[1] if t[1] else None, t) for k, t in tally.by_probe.items()]
    probes.sort(key=lambda p: -(p[1] if p[1] is not None else -1))
    return probes


def _show(value: float) -> str:
    from auditkit.report.context import fmt  # late: context builds on this module

    return fmt(value)


def _unit(declared: OutputField) -> str:
    return f" ({declared.unit})" if declared.unit else ""


def _figures_of(name: str, declared: OutputField, tally: FieldTally) -> list[Figure]:
    out = []
    key = f"{slug(name)}-{slug(declared.name)}"
    unit = f" {declared.unit}" if declared.unit else ""
    if len(tally.values) >= 2:
        edges, counts = bin_values(list(tally.values))
        title = f"{declared.label}{_unit(declared)}, {len(tally.values):,} outputs with a figure"
        desc = f"{len(tally.values):,} outputs from {_show(edges[0])} to {_show(edges[-1])}{unit}"
        out.append(Figure(title=title, alt=desc, key=f"{key}-per-output", svg=histogram_plot(
            uid=f"{key}-per-output", title=title, desc=desc, edges=edges, counts=counts, threshold=None,
            x_label=declared.label.lower(), numbers=Numbers(unit=declared.unit or None))))
    probes = [Estimate(label=k, value=v, n=int(t[1])) for k, v, t in probe_means(tally) if v is not None]
    if probes:
        title = f"Mean {declared.label[:1].lower()}{declared.label[1:]} by probe{_unit(declared)}"
        desc = "; ".join(f"{e.label}: {_show(e.value)}{unit}" for e in probes[:MAX_PROBES] if e.value is not None)
        out.append(Figure(title=title, alt=desc, key=f"{key}-by-probe", svg=forest_plot(
            uid=f"{key}-by-probe", title=title, desc=desc, rows=probes[:MAX_PROBES], references=(),
            numbers=Numbers(unit=declared.unit or None), axis_label=f"mean {declared.label.lower()} per output")))
    return out


def field_figures(*, name: str, fields: Sequence[OutputField], scan: OutputScan) -> list[Figure]:
    """For each field analyzer ``name`` declares that the scan found: its distribution over outputs (two
    values or more) and its mean by probe, highest first (at most ``MAX_PROBES``)."""
    out: list[Figure] = []
    for declared in fields:
        tally = scan.fields.get(declared.name)
        if tally is not None:
            out += _figures_of(name, declared, tally)
    return out
