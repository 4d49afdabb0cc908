"""A modelled energy figure for remote API calls, where nothing can be measured: the EcoLogits method.

EcoLogits (https://ecologits.ai/latest/methodology/llm_inference/, MPL-2.0) fits GPU energy per output
token to ML.ENERGY leaderboard measurements on H100s, ``f_E(P_active, batch=64)`` Wh/token per GPU,
sizes the deployment (16-bit weights ×1.2, 80 GB GPUs, rounded up to a power of two), and adds the
server's non-GPU power (1.2 kW per 8 GPUs) over a modelled generation time shared by the batch. We call
``ecologits.impacts.llm.compute_llm_impacts`` as a library with PUE 1 (auditkit applies PUE separately,
in the carbon figure) and take parameter counts from its model repository (or from the user's
``energy.model_params_b``). Its range covers only the parameter-count range of closed models (and the
10–30% active share of mixtures of experts): not the hardware, batch size, prompt length (prefill is not
modelled) or the provider's real deployment. Measured latency is not used, so the figure is linear in
output tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from auditkit.errors import ConfigError

__all__ = ["ModelSize", "ModelledEnergy", "model_size", "modelled_energy"]


@dataclass(frozen=True, slots=True)
class ModelSize:
    """Parameter counts in billions (min–max) and where they came from."""

    active_b: tuple[float, float]
    total_b: tuple[float, float]
    source: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ModelledEnergy:
    """Modelled joules for one output: midpoint of the EcoLogits min–max, with the range."""

    joules: float
    low_j: float
    high_j: float


def model_size(
    *, model: str | None, params_b: float | None = None, active_params_b: float | None = None
) -> ModelSize | None:
    """Explicit sizes win; else EcoLogits' repository by model name; ``None`` when unknown."""
    if params_b is not None:
        if params_b <= 0 or (active_params_b is not None and not 0 < active_params_b <= params_b):
            raise ConfigError(
                "energy.model_params_b must be > 0 and energy.active_params_b in (0, model_params_b] "
                f"(billions of parameters); got {params_b} and {active_params_b}."
            )
        active = active_params_b if active_params_b is not None else params_b
        return ModelSize(
            active_b=(active, active),
            total_b=(params_b, params_b),
            source="energy.model_params_b given by the user",
        )
    if not model:
        return None
    return _repository_size(model.split("/")[-1])


@lru_cache(maxsize=64)
def _repository_size(name: str) -> ModelSize | None:
    try:
        import ecologits
        from ecologits.model_repository import ParametersMoE, models
    except ImportError:
        return None
    found = next((m for m in models.list_models() if m.name == name), None)
    if found is None:
        return None
    params = found.architecture.parameters
    if isinstance(params, ParametersMoE):  # mixture of experts
        total, active = params.total, params.active
    else:
        total = active = params
    version = getattr(ecologits, "__version__", "?")
    return ModelSize(
        active_b=_span(active),
        total_b=_span(total),
        source=f"EcoLogits {version} model repository: {found.provider.value}/{found.name}",
        warnings=tuple(str(w.code) for w in (found.warnings or ())),
    )


def modelled_energy(*, output_tokens: int, size: ModelSize) -> ModelledEnergy:
    """EcoLogits energy of generating ``output_tokens`` (PUE 1), midpoint and min–max, in joules."""
    low_per_token = _joules_per_token(size.active_b[0], size.total_b[0])
    high_per_token = _joules_per_token(size.active_b[1], size.total_b[1])
    low, high = low_per_token * output_tokens, high_per_token * output_tokens
    return ModelledEnergy(joules=(low + high) / 2, low_j=low, high_j=high)


@lru_cache(maxsize=64)
def _joules_per_token(active_b: float, total_b: float) -> float:
    from ecologits.impacts.llm import compute_llm_impacts

    tokens = 1000
    impacts = compute_llm_impacts(
        model_active_parameter_count=active_b,
        model_total_parameter_count=total_b,
        output_token_count=tokens,
        if_electricity_mix_adpe=0.0,
        if_electricity_mix_pe=0.0,
        if_electricity_mix_gwp=0.0,
        if_electricity_mix_wue=0.0,
        datacenter_pue=1.0,
        datacenter_wue=0.0,
    )
    value = impacts.energy.value
    kwh = float(value) if isinstance(value, (int, float)) else float(value.mean)
    return kwh * 3.6e6 / tokens


def _span(value: Any) -> tuple[float, float]:
    if hasattr(value, "min") and hasattr(value, "max"):
        return float(value.min), float(value.max)
    return float(value), float(value)
