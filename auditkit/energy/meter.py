"""The energy meter the engine wraps around every generation batch.

Contract (the engine relies on exactly this)::

    meter = open_meter(device="cpu", energy_source="local")
    meter.info                      # {"method": ..., "scope": ..., "counters": [...], ...}
    with meter.measure() as reading:
        ...generate one batch...
    reading.joules                  # float | None  (None = not measured, never 0)
    reading.method                  # measured-nvml | measured-rapl | estimated | not-measured
    reading.cpu_s, reading.wall_s   # process CPU seconds and wall seconds of the block
    reading.low_j, reading.high_j   # uncertainty range of ``joules`` (None when not measured)

``open_meter`` picks the best source available, in this order: NVML total-energy counters for ``cuda``
devices; RAPL package counters for ``cpu`` when ``/sys/class/powercap`` is readable; otherwise a
labelled estimate from process CPU time and a hardware power model (:mod:`auditkit.energy.estimate`).
Adapters whose abilities say their energy is ``modelled`` (remote APIs) get a meter that measures nothing
locally: their energy is modelled per output by the energy analyzer from output tokens
(:mod:`auditkit.energy.modelled`); ``replayed`` ones (outputs read from a file) likewise.
A reading that cannot be taken (a counter read failed mid-run) is ``not-measured``, never 0.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from auditkit.energy import estimate, methods, nvml, rapl

__all__ = ["EnergyMeter", "IdlePower", "Reading", "open_meter"]


@dataclass(slots=True)
class Reading:
    """What one ``measure()`` block cost. Mutable on purpose: filled in when the block exits."""

    joules: float | None = None
    method: str = methods.NOT_MEASURED
    cpu_s: float = 0.0
    wall_s: float = 0.0
    low_j: float | None = None
    high_j: float | None = None
    scope: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    """Components (``cpu_j``, ``ram_j``, per-counter joules) and why a figure is missing."""


@dataclass(frozen=True, slots=True)
class IdlePower:
    """Power drawn while this process sleeps, to subtract as a baseline (same method and scope)."""

    watts: float | None
    low_w: float | None
    high_w: float | None
    seconds: float
    method: str


class _Backend(Protocol):
    method: str

    def info(self) -> dict[str, Any]: ...
    def snapshot(self) -> Any: ...
    def energy(self, before: Any, after: Any, cpu_s: float, wall_s: float, reading: Reading) -> None: ...


class EnergyMeter:
    """Times blocks of work and attaches the energy its backend can see (or ``None``)."""

    def __init__(self, *, device: str, backend: _Backend | None = None, notes: tuple[str, ...] = ()) -> None:
        self.device = device
        self._backend: _Backend = backend if backend is not None else _Nothing(reason="no backend")
        self._notes = notes

    @property
    def method(self) -> str:
        return self._backend.method

    @property
    def info(self) -> dict[str, Any]:
        about = methods.method_info(label=self._backend.method)
        return {
            "method": about.label,
            "kind": about.kind,
            "scope": about.scope,
            "device": self.device,
            "range": about.range_basis,
            **self._backend.info(),
            "notes": list(self._notes),
        }

    @contextmanager
    def measure(self) -> Iterator[Reading]:
        reading = Reading(
            method=self._backend.method, scope=methods.method_info(label=self._backend.method).scope
        )
        before = self._backend.snapshot()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            yield reading
        finally:
            reading.wall_s = time.perf_counter() - wall0
            reading.cpu_s = time.process_time() - cpu0
            after = self._backend.snapshot()
            self._backend.energy(before, after, reading.cpu_s, reading.wall_s, reading)
            if reading.joules is None:
                reading.method, reading.low_j, reading.high_j = methods.NOT_MEASURED, None, None

    def measure_idle(self, *, seconds: float) -> IdlePower:
        """Sleep ``seconds`` inside a window and return the power seen: the idle baseline."""
        with self.measure() as reading:
            time.sleep(max(seconds, 0.0))
        wall = max(reading.wall_s, 1e-9)

        def per_s(x: float | None) -> float | None:
            return None if x is None else x / wall

        return IdlePower(
            watts=per_s(reading.joules),
            low_w=per_s(reading.low_j),
            high_w=per_s(reading.high_j),
            seconds=reading.wall_s,
            method=reading.method,
        )


class _Nothing:
    method = methods.NOT_MEASURED

    def __init__(self, *, reason: str) -> None:
        self.reason = reason

    def info(self) -> dict[str, Any]:
        return {"counters": [], "why_not_measured": self.reason}

    def snapshot(self) -> None:
        return None

    def energy(self, before: Any, after: Any, cpu_s: float, wall_s: float, reading: Reading) -> None:
        reading.details["why_not_measured"] = self.reason


class _Nvml:
    method = methods.MEASURED_NVML

    def __init__(self, gpus: nvml.NvmlGpus) -> None:
        self.gpus = gpus

    def info(self) -> dict[str, Any]:
        return {
            "counters": [
                f"nvml:{i} {n} total energy (mJ)" for i, n in zip(self.gpus.indices, self.gpus.names)
            ],
            "skipped": list(self.gpus.skipped),
        }

    def snapshot(self) -> tuple[int | None, ...]:
        return self.gpus.read_mj()

    def energy(self, before: Any, after: Any, cpu_s: float, wall_s: float, reading: Reading) -> None:
        per_gpu = [
            None if a is None or b is None or b < a else (b - a) / 1000.0 for a, b in zip(before, after)
        ]
        if any(j is None for j in per_gpu):
            # A failed read or a counter that went backwards (driver reload): a partial sum would be low.
            reading.details["why_not_measured"] = "an NVML energy read failed or the counter was reset"
            return
        _fill(reading, sum(per_gpu), self.method)  # type: ignore[arg-type]
        reading.details["gpu_j"] = per_gpu


class _Rapl:
    method = methods.MEASURED_RAPL

    def __init__(self, probe: rapl.RaplProbe) -> None:
        self.probe = probe

    def info(self) -> dict[str, Any]:
        return {
            "counters": [f"{d.path} ({d.name})" for d in self.probe.domains],
            "skipped": list(self.probe.skipped),
        }

    def snapshot(self) -> tuple[int | None, ...]:
        return rapl.read_counters(domains=self.probe.domains)

    def energy(self, before: Any, after: Any, cpu_s: float, wall_s: float, reading: Reading) -> None:
        deltas = [
            rapl.counter_delta(before=b, after=a, max_range_uj=d.max_range_uj)
            for d, b, a in zip(self.probe.domains, before, after)
        ]
        if any(d is None for d in deltas):
            reading.details["why_not_measured"] = (
                "a RAPL counter read failed or wrapped without a known range"
            )
            return
        _fill(reading, sum(deltas) / 1e6, self.method)  # type: ignore[arg-type]
        reading.details["package_j"] = [d / 1e6 for d in deltas]  # type: ignore[operator]


class _Estimate:
    method = methods.ESTIMATED

    def __init__(self, model: estimate.PowerModel, why: str) -> None:
        self.model = model
        self.why = why

    def info(self) -> dict[str, Any]:
        return {"counters": [], "why_estimated": self.why, "power_model": self.model.to_dict()}

    def snapshot(self) -> None:
        return None

    def energy(self, before: Any, after: Any, cpu_s: float, wall_s: float, reading: Reading) -> None:
        est = estimate.estimate_energy(
            model=self.model, cpu_s=cpu_s, wall_s=wall_s, rss_gb=estimate.process_rss_gb()
        )
        reading.joules, reading.low_j, reading.high_j = est.joules, est.low_j, est.high_j
        reading.details.update(cpu_j=est.cpu_j, ram_j=est.ram_j)


def _fill(reading: Reading, joules: float, method: str) -> None:
    about = methods.method_info(label=method)
    reading.joules = joules
    reading.low_j = joules * (about.low_factor or 1.0)
    reading.high_j = joules * (about.high_factor or 1.0)


def open_meter(
    *,
    device: str,
    energy_source: str = "local",
    adapter: str | None = None,
    rapl_root: Path | None = None,
    estimate_fallback: bool = True,
) -> EnergyMeter:
    """The best meter available for ``device`` (``cpu``, ``cuda``, ``cuda:0``...).

    ``energy_source`` (the adapter's declared ``AdapterAbilities.energy_source``): only ``local``
    adapters are metered here; ``modelled`` (remote) and ``replayed`` ones opt out. ``adapter`` names the
    adapter in those notes; ``rapl_root`` replaces ``/sys/class/powercap`` (tests);
    ``estimate_fallback=False`` yields ``not-measured`` instead of an estimate when no counter is readable.
    """
    notes: list[str] = []
    if energy_source == "modelled":
        reason = (
            f"the {_named(adapter)}adapter runs the model remotely: nothing to measure here; the energy "
            "analyzer models each output's energy from its output tokens (EcoLogits method)"
        )
        return EnergyMeter(device=device, backend=_Nothing(reason=reason))
    if energy_source == "replayed":
        reason = "replayed outputs were generated elsewhere: only energy_j given in the file is reported"
        return EnergyMeter(device=device, backend=_Nothing(reason=reason))
    kind = device.split(":")[0].lower()
    if kind == "cuda":
        gpus = nvml.open_nvml(device=device)
        if isinstance(gpus, nvml.NvmlGpus):
            return EnergyMeter(device=device, backend=_Nvml(gpus))
        notes.append(f"NVML not used: {gpus}")
    else:
        probe = rapl.probe_rapl(root=rapl_root if rapl_root is not None else rapl.DEFAULT_ROOT)
        if probe.domains:
            return EnergyMeter(device=device, backend=_Rapl(probe), notes=probe.skipped)
        notes.extend(f"RAPL not used: {s}" for s in probe.skipped)
    if kind == "cuda":
        # A CPU-time estimate would leave out the GPU, where most of the energy goes: say n/a instead.
        notes.append("no GPU energy counter: GPU energy is not measured and not estimated")
        return EnergyMeter(device=device, backend=_Nothing(reason="; ".join(notes)), notes=tuple(notes))
    if not estimate_fallback:
        return EnergyMeter(device=device, backend=_Nothing(reason="; ".join(notes)), notes=tuple(notes))
    why = "no readable energy counter" + (f" ({'; '.join(notes)})" if notes else "")
    return EnergyMeter(device=device, backend=_Estimate(estimate.power_model(), why), notes=tuple(notes))


def _named(adapter: str | None) -> str:
    return f"{adapter!r} " if adapter else ""
