"""A labelled estimate of CPU energy when no counter can be read: CPU time × per-thread power + RAM.

Method (CodeCarbon's "process" tracking mode, https://mlco2.github.io/codecarbon/methodology.html):
the CPU draws its TDP when every hardware thread is busy, so one busy thread draws ``TDP / threads``;
this process's CPU time (all its threads) times that per-thread power is its CPU energy. Memory adds
0.375 W per GB of the process's resident memory over the wall time (3 W per 8 GB, CodeCarbon's v2 RAM
constant, which it cites from Crucial). The TDP comes from CodeCarbon's CPU table
(``cpu_power.csv``, ~4,900 models), matched exactly as CodeCarbon matches it; CodeCarbon is used as a
library for that table only (its tracker adds threads, ~1.5 s start-up and machine-wide sampling that
per-batch windows do not need). Without CodeCarbon, or for a CPU it does not know, the per-thread power
is CodeCarbon's default of 4 W with a 2–10 W range (our choice: a 64-core server part such as the EPYC
7763 is 280 W / 128 threads ≈ 2.2 W, a desktop i7-12700K 190 W / 20 threads ≈ 9.5 W).

It is an order-of-magnitude figure: it ignores frequency scaling, idle power of the package, memory
traffic and other processes, and a virtual machine sees only a slice of the package it runs on.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_WATTS_PER_THREAD",
    "EstimatedEnergy",
    "PowerModel",
    "RAM_WATTS_PER_GB",
    "estimate_energy",
    "lookup_tdp",
    "power_model",
    "process_rss_gb",
]

DEFAULT_WATTS_PER_THREAD = 4.0
"""CodeCarbon's ``DEFAULT_POWER_PER_CORE`` (W per logical CPU) for CPUs missing from its table."""
RAM_WATTS_PER_GB = 0.375
"""3 W per 8 GB: CodeCarbon's v2 memory power constant."""
_UNKNOWN_RANGE = (2.0, 10.0)
_KNOWN_FACTORS = (0.5, 1.5)  # turbo above TDP / SMT siblings sharing a core: our choice
_VM_LOW_FACTOR = 0.25  # a VM's vCPUs are a slice of a bigger package: per-thread TDP share is high
_RAM_FACTORS = (0.5, 2.0)  # CodeCarbon's own v2 and v3 RAM models differ by about this much


@dataclass(frozen=True, slots=True)
class PowerModel:
    """The assumptions behind an estimate; shown verbatim in the report."""

    cpu_model: str
    threads: int
    tdp_w: float | None
    tdp_source: str
    watts_per_thread: float
    watts_per_thread_low: float
    watts_per_thread_high: float
    ram_watts_per_gb: float
    virtual_machine: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EstimatedEnergy:
    """Joules of one window with their range and the parts they came from."""

    joules: float
    low_j: float
    high_j: float
    cpu_j: float
    ram_j: float


def power_model(*, cpu_model: str | None = None, threads: int | None = None) -> PowerModel:
    """The power model of this machine (or of the given CPU model and thread count)."""
    return _power_model(
        cpu_model if cpu_model is not None else _cpu_model_name(),
        threads if threads is not None else (os.cpu_count() or 1),
        _is_vm(),
    )


@lru_cache(maxsize=8)
def _power_model(cpu_model: str, threads: int, vm: bool) -> PowerModel:
    tdp, source = lookup_tdp(cpu_model=cpu_model)
    if tdp is None:
        low, high = _UNKNOWN_RANGE
        return PowerModel(
            cpu_model=cpu_model,
            threads=threads,
            tdp_w=None,
            tdp_source=source,
            watts_per_thread=DEFAULT_WATTS_PER_THREAD,
            watts_per_thread_low=low,
            watts_per_thread_high=high,
            ram_watts_per_gb=RAM_WATTS_PER_GB,
            virtual_machine=vm,
        )
    per_thread = tdp / max(threads, 1)
    low_f = _VM_LOW_FACTOR if vm else _KNOWN_FACTORS[0]
    return PowerModel(
        cpu_model=cpu_model,
        threads=threads,
        tdp_w=tdp,
        tdp_source=source,
        watts_per_thread=per_thread,
        watts_per_thread_low=per_thread * low_f,
        watts_per_thread_high=per_thread * _KNOWN_FACTORS[1],
        ram_watts_per_gb=RAM_WATTS_PER_GB,
        virtual_machine=vm,
    )


def estimate_energy(*, model: PowerModel, cpu_s: float, wall_s: float, rss_gb: float) -> EstimatedEnergy:
    """CPU energy ``cpu_s × W/thread`` plus RAM energy ``rss_gb × 0.375 W/GB × wall_s``, with bounds."""
    cpu_s, wall_s, rss_gb = max(cpu_s, 0.0), max(wall_s, 0.0), max(rss_gb, 0.0)
    cpu_j = cpu_s * model.watts_per_thread
    ram_j = rss_gb * model.ram_watts_per_gb * wall_s
    low = cpu_s * model.watts_per_thread_low + ram_j * _RAM_FACTORS[0]
    high = cpu_s * model.watts_per_thread_high + ram_j * _RAM_FACTORS[1]
    return EstimatedEnergy(joules=cpu_j + ram_j, low_j=low, high_j=high, cpu_j=cpu_j, ram_j=ram_j)


def lookup_tdp(*, cpu_model: str) -> tuple[float | None, str]:
    """TDP in W from CodeCarbon's CPU table (exact match, as CodeCarbon matches); ``None`` when unknown."""
    try:
        from codecarbon.input import DataSource
    except ImportError:
        return (
            None,
            f"codecarbon not installed: no TDP table; default {DEFAULT_WATTS_PER_THREAD:g} W per thread",
        )
    from rapidfuzz import fuzz, process, utils

    table = DataSource().get_cpu_power_data()
    names = list(table["Name"])
    match = _match(cpu_model, names, fuzz, process, utils)
    if match is None:
        return None, (
            f"CPU {cpu_model!r} not in CodeCarbon's cpu_power.csv; "
            f"default {DEFAULT_WATTS_PER_THREAD:g} W per thread (CodeCarbon's default)"
        )
    tdp = float(table.loc[table["Name"] == match, "TDP"].iloc[0])
    return tdp, f"CodeCarbon cpu_power.csv: {match} = {tdp:g} W"


def _match(raw: str, names: list[str], fuzz: Any, process: Any, utils: Any) -> str | None:
    # CodeCarbon's rule (codecarbon/core/cpu.py TDP._get_matching_cpu): exact matches only, first raw,
    # then without vendor marks and clock speed, then a unique 100% token-set match.
    if not raw.strip():
        return None
    found = process.extractOne(raw, names, processor=lambda s: s.lower(), scorer=fuzz.ratio, score_cutoff=100)
    if found:
        return str(found[0])
    cleaned = raw.replace("(R)", "")
    at = cleaned.find(" CPU @ ")
    cleaned = cleaned[:at] if at > 0 else cleaned
    cleaned = re.sub(r" @\s*\d+\.\d+GHz", "", cleaned.replace(" CPU", ""))
    found = process.extractOne(
        cleaned, names, processor=lambda s: s.lower(), scorer=fuzz.ratio, score_cutoff=100
    )
    if found:
        return str(found[0])
    many = process.extract(
        cleaned, names, processor=utils.default_process, scorer=fuzz.token_set_ratio, score_cutoff=100
    )
    if len(many) == 1 or (len(many) > 1 and many[0][1] != many[1][1]):
        return str(many[0][0])
    return None


def process_rss_gb() -> float:
    """Resident memory of this process in GB (0 when it cannot be read)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # peak, KB on Linux
    except (ImportError, OSError):
        return 0.0


def _cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def _is_vm() -> bool:
    try:
        return " hypervisor" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
