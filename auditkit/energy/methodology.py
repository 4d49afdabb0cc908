"""The run-specific methodology paragraph of the energy section: what was measured, estimated, modelled.

Written from the counts of each method label and the assumptions actually used, so the report says what
happened in *this* run (e.g. "no counter was readable; every figure is an estimate"), not a generic text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.energy import methods as m
from auditkit.energy.carbon import GridIntensity

__all__ = ["methodology_text"]


def methodology_text(
    *,
    counts: Mapping[str, int],
    grid: GridIntensity,
    pue: float,
    assumptions: Mapping[str, Any],
    idle: Any = None,
) -> str:
    """One plain-text block (a few sentences per method present) for the report's methodology."""
    total = sum(counts.values())
    parts: list[str] = []
    if counts.get(m.MEASURED_NVML):
        parts.append(
            f"Measured ({counts[m.MEASURED_NVML]} of {total} outputs): NVIDIA GPU total-energy counters (NVML, mJ) "
            "were read before and after each generation batch, after synchronising CUDA; the batch's energy is "
            "shared among its outputs by output tokens. Scope: the whole GPU, including other processes on it; "
            "host CPU and RAM are not included."
        )
    if counts.get(m.MEASURED_RAPL):
        parts.append(
            f"Measured ({counts[m.MEASURED_RAPL]} of {total} outputs): RAPL package counters (powercap sysfs, µJ, "
            "wrap-around corrected) around each batch, shared by output tokens. Scope: whole CPU package(s), "
            "including other processes; DRAM and GPUs are not included."
        )
    if counts.get(m.ESTIMATED):
        model = assumptions.get("power_model") or {}
        tdp = (
            (f"TDP {model.get('tdp_w'):g} W" if model.get("tdp_w") else "TDP unknown")
            if model
            else "TDP unknown"
        )
        parts.append(
            f"Estimated ({counts[m.ESTIMATED]} of {total} outputs): no energy counter was readable, so energy is "
            f"this process's CPU time × {model.get('watts_per_thread', 0):g} W per thread "
            f"(CPU {model.get('cpu_model', '?')!r}, {tdp}, {model.get('threads', '?')} threads; "
            f"{model.get('tdp_source', '')}) plus its resident memory × 0.375 W/GB over the wall time "
            "(CodeCarbon's method). This is not a measurement: treat it as an order of magnitude; the range "
            "shown is ×0.5–×2.5. Scope: this process only (other processes and idle package power are not counted)."
        )
    if counts.get(m.MODELLED):
        size = assumptions.get("modelled") or {}
        parts.append(
            f"Modelled ({counts[m.MODELLED]} of {total} outputs): the model runs remotely, so energy is modelled "
            "from output tokens and parameter count with EcoLogits' method (H100 GPUs, batch 64, server overhead; "
            f"parameters {size.get('total_b') if isinstance(size, Mapping) else '?'} B, "
            f"{size.get('source') if isinstance(size, Mapping) else ''}). Its range covers only the parameter-count "
            "range; prompt length (prefill), the provider's real hardware, batching and location are not known."
        )
    if counts.get(m.PROVIDED):
        parts.append(
            f"Provided ({counts[m.PROVIDED]} of {total} outputs): energy_j came with the replayed outputs and "
            "is reported as given; auditkit cannot check how it was obtained or give it a range."
        )
    if counts.get(m.NOT_MEASURED):
        parts.append(
            f"Not measured ({counts[m.NOT_MEASURED]} of {total} outputs): no counter, estimate or model applied; "
            "these are n/a and left out of every energy figure (never counted as 0)."
        )
    if idle is not None and idle.watts is not None:
        parts.append(
            f"An idle baseline of {idle.watts:.3g} W ({idle.method}, measured over {idle.seconds:.1f} s after "
            "generation) was subtracted from each output's figure of the same method over its wall time."
        )
    year = f", {grid.year}" if grid.year else ""
    parts.append(
        f"Carbon: gCO2e = kWh × PUE ({pue:g}) × {grid.g_per_kwh:g} gCO2e/kWh ({grid.name}, {grid.zone}{year}; "
        f"{grid.source}). This is a location-based annual average, not marginal or market-based; PUE "
        "1.0 means no data-centre overhead was added."
    )
    parts.append(
        "Limits: figures are audit-harness energy at this run's batch size, not production-serving energy; "
        "they exclude training, embodied hardware emissions, networking and storage. Confidence intervals "
        "cover variation between prompts; the ranges cover the method's systematic uncertainty."
    )
    return "\n\n".join(parts)
