"""Per-output numbers an analyzer wants the report to chart, declared on the analyzer's class.

Some facts are stored on each row of ``outputs.jsonl`` rather than as scores (the joules an output cost,
and how that figure was obtained). An analyzer that summarizes such a field declares it, and the report
then draws the values' distribution and their mean by probe in the analyzer's section, and tabulates
how each figure was obtained — for any analyzer, built-in or plugin::

    class EnergyAnalyzer:
        output_fields = (
            OutputField(name="energy_j", label="Energy per prompt", unit="J", method_field="energy_method"),
        )
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OutputField"]


@dataclass(frozen=True, slots=True)
class OutputField:
    """One numeric field of ``outputs.jsonl`` rows, charted in its analyzer's report section."""

    name: str
    """The row's key (``energy_j``); rows without a finite number there count as "not measured"."""
    label: str
    """What one value is, for people: "Energy per prompt"."""
    unit: str = ""
    """Unit of the values ("J"), shown on axes and in table headings."""
    method_field: str = ""
    """The row's key saying how its figure was obtained (``energy_method``); empty: not tabulated."""
