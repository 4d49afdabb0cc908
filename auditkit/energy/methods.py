"""How an energy figure was obtained: method labels, their scope and their default uncertainty band.

Every energy figure auditkit reports carries exactly one of these labels. ``not-measured`` is shown as
n/a and its value is ``None``, never 0. The bands are multiplicative (``low = value × low_factor``) and
describe *systematic* uncertainty of the method; sampling uncertainty over prompts is reported separately
as a confidence interval.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ESTIMATED",
    "MEASURED_NVML",
    "MEASURED_RAPL",
    "METHODS",
    "MODELLED",
    "MethodInfo",
    "NOT_MEASURED",
    "PROVIDED",
    "method_info",
]

MEASURED_NVML = "measured-nvml"
MEASURED_RAPL = "measured-rapl"
ESTIMATED = "estimated"
MODELLED = "modelled"
PROVIDED = "provided"
NOT_MEASURED = "not-measured"


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """What a method label means for the reader of a report."""

    label: str
    kind: str
    """``measured counter`` | ``estimated`` | ``modelled`` | ``provided`` | ``not measured``."""
    scope: str
    """What the figure covers: a whole device (every process on it) or this process only."""
    low_factor: float | None
    high_factor: float | None
    range_basis: str
    """Why the band is what it is (our choice or a source)."""


# The counter bands are our choice: the counters are exact integrals of the sensor's power, but the
# sensors themselves have a few percent error and the scope (whole device) is the larger caveat.
# The estimate band (×0.5–×2.5) covers an unknown CPU's per-thread power of 2–10 W around the 4 W
# default (see auditkit.energy.estimate) and the 2× spread between CodeCarbon's tracking modes.
METHODS: dict[str, MethodInfo] = {
    MEASURED_NVML: MethodInfo(
        label=MEASURED_NVML,
        kind="measured counter",
        scope="device: whole GPU(s), every process on them; host CPU and RAM not included",
        low_factor=0.95,
        high_factor=1.05,
        range_basis="±5% sensor error assumed (our choice); NVML total-energy counter (mJ) deltas",
    ),
    MEASURED_RAPL: MethodInfo(
        label=MEASURED_RAPL,
        kind="measured counter",
        scope="device: whole CPU package(s), every process on them; DRAM and GPU not included",
        low_factor=0.9,
        high_factor=1.1,
        range_basis="±10% assumed (our choice): RAPL is a model-assisted counter, package domain only",
    ),
    ESTIMATED: MethodInfo(
        label=ESTIMATED,
        kind="estimated",
        scope="process: this process's CPU time × per-thread power, plus its resident memory × 0.375 W/GB",
        low_factor=0.5,
        high_factor=2.5,
        range_basis="×0.5–×2.5 (our choice): CPU power per thread unknown within 2–10 W on unknown CPUs",
    ),
    MODELLED: MethodInfo(
        label=MODELLED,
        kind="modelled",
        scope="remote API: one request's share of a modelled H100 server (EcoLogits method)",
        low_factor=None,
        high_factor=None,
        range_basis="EcoLogits min–max over the model's parameter-count range only",
    ),
    PROVIDED: MethodInfo(
        label=PROVIDED,
        kind="provided",
        scope="as provided by the replay file (unknown to auditkit)",
        low_factor=None,
        high_factor=None,
        range_basis="no range: the provider of the figure stated none",
    ),
    NOT_MEASURED: MethodInfo(
        label=NOT_MEASURED,
        kind="not measured",
        scope="nothing: no counter, no estimate (n/a, never 0)",
        low_factor=None,
        high_factor=None,
        range_basis="n/a",
    ),
}


def method_info(*, label: str | None) -> MethodInfo:
    """The description of ``label``; unknown labels (e.g. from a plugin) are treated like ``provided``."""
    if label is None:
        return METHODS[NOT_MEASURED]
    known = METHODS.get(label)
    if known is not None:
        return known
    return MethodInfo(
        label=label,
        kind="provided",
        scope="unknown (label set outside auditkit)",
        low_factor=None,
        high_factor=None,
        range_basis="no range known for this label",
    )
