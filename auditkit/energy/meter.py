"""The energy meter the engine wraps around every generation batch.

Contract (the engine relies on exactly this)::

    meter = open_meter(device="cpu")
    meter.info                      # {"method": ..., "scope": ..., "counters": [...]}
    with meter.measure() as reading:
        ...generate one batch...
    reading.joules                  # float | None  (None = not measured, never 0)
    reading.method                  # measured-nvml | measured-rapl | estimated | not-measured
    reading.cpu_s, reading.wall_s   # process CPU seconds and wall seconds of the block
    reading.low_j, reading.high_j   # uncertainty range of ``joules`` (None when not measured)

This first meter measures only time: wall clock and process CPU time. It reports ``joules=None`` with
``method="not-measured"`` rather than guessing; counter-based meters (NVML, RAPL) and hardware-model
estimates replace it behind the same interface.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

__all__ = ["EnergyMeter", "Reading", "open_meter"]


@dataclass(slots=True)
class Reading:
    """What one ``measure()`` block cost. Mutable on purpose: filled in when the block exits."""

    joules: float | None = None
    method: str = "not-measured"
    cpu_s: float = 0.0
    wall_s: float = 0.0
    low_j: float | None = None
    high_j: float | None = None


class EnergyMeter:
    """Times blocks of work; no energy counters (``joules`` stays ``None``)."""

    def __init__(self, *, device: str) -> None:
        self.device = device

    @property
    def info(self) -> dict[str, Any]:
        return {
            "method": "not-measured",
            "scope": "process cpu time and wall time only",
            "device": self.device,
            "counters": [],
        }

    @contextmanager
    def measure(self) -> Iterator[Reading]:
        reading = Reading()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            yield reading
        finally:
            reading.wall_s = time.perf_counter() - wall0
            reading.cpu_s = time.process_time() - cpu0


def open_meter(*, device: str) -> EnergyMeter:
    """The best meter available for ``device`` (``cpu``, ``cuda``, ``cuda:0``...)."""
    return EnergyMeter(device=device)
