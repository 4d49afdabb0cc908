"""Energy cost of the audited generations: J and Wh per prompt, Wh per 1k output tokens, tokens/s, gCO2e.

Where the figures come from (each output's ``energy_method``):

- the engine's meter (``auditkit.energy.meter``) around each batch, shared among the batch's outputs by
  output tokens: ``measured-nvml``, ``measured-rapl`` or ``estimated``;
- a replay file's own ``energy_j``: ``provided``;
- for remote APIs (adapters whose declared abilities say ``energy_source="modelled"``: option
  ``energy_source``, which the engine sets, or an ``adapter`` name such as ``openai``), or any run given
  ``model_params_b``, this analyzer models each output from its output tokens with the EcoLogits method:
  ``modelled``;
- otherwise none: the metric is ``None`` ("not measured", n/a), never 0.

Every metric names the method(s) and scope behind it and carries a systematic range (``details``)
beside its confidence interval over prompts. Options (suite ``analyzer_options.energy`` or
``--analyzer-arg energy.KEY=VALUE``): ``grid`` (ISO country code, default world average),
``grid_g_per_kwh`` (explicit intensity), ``pue`` (default 1.0), ``idle_baseline_s`` (measure idle power
for this long and subtract it), ``device`` (for the idle baseline, default ``cpu``), ``adapter``,
``energy_source``, ``model``, ``model_params_b``, ``active_params_b`` (modelled figures), ``max_listed``, ``seed``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from auditkit.analyzers.base import Analysis, Observation, analyzers, describes
from auditkit.analyzers.energy_stats import bootstrap_mean, bootstrap_ratio, range_details, scaled, with_caveat
from auditkit.analyzers.metric_spec import MetricSpec
from auditkit.analyzers.options import AnalyzerOptions
from auditkit.analyzers.output_fields import OutputField
from auditkit.energy import methods as m
from auditkit.errors import ConfigError
from auditkit.records import Generation, Metric, Prompt, Score

__all__ = ["EnergyAnalyzer", "EnergyOptions", "make_energy"]

_J_PER_WH = 3600.0


class EnergyOptions(AnalyzerOptions):
    """The analyzer's options, parsed and checked (the engine adds ``adapter`` and ``model``)."""

    analyzer: ClassVar[str] = "energy"

    seed: int = 0
    grid: str | None = None
    grid_g_per_kwh: float | None = None
    pue: float = 1.0
    idle_baseline_s: float = 0.0
    device: str = "cpu"
    adapter: str | None = None
    energy_source: str | None = None
    model: str | None = None
    model_params_b: float | None = None
    active_params_b: float | None = None
    max_listed: int = 500

    @field_validator("pue")
    @classmethod
    def _pue(cls, value: float) -> float:
        if not value >= 1.0:
            raise ValueError(f"energy.pue must be ≥ 1.0 (facility energy ÷ IT energy), got {value}")
        return value

    @model_validator(mode="after")
    def _non_negative(self) -> EnergyOptions:
        if self.idle_baseline_s < 0 or self.max_listed < 0:
            raise ValueError("energy.idle_baseline_s and energy.max_listed must be ≥ 0")
        return self


@dataclass(frozen=True, slots=True)
class _Figure:
    """One output's energy with its label and systematic range (``None`` range: unknown)."""

    prompt: Prompt
    gen: Generation
    joules: float | None
    method: str
    low_j: float | None
    high_j: float | None


class EnergyAnalyzer:
    """Aggregates per-output energy, latency and token counts into per-prompt and per-token costs."""

    name = "energy"
    title = "Energy"
    report_order = 40
    options_model = EnergyOptions
    metric_specs = (
        MetricSpec(name="j_per_prompt", label="Energy per prompt",
                   direction="lower_is_better", unit="J",
                   description="Energy per generated output."),
        MetricSpec(name="wh_per_prompt", label="Energy per prompt (Wh)",
                   direction="lower_is_better", unit="Wh",
                   description="Energy per generated output."),
        MetricSpec(name="wh_per_1k_tokens", label="Energy per 1,000 tokens",
                   direction="lower_is_better", unit="Wh/1k tokens",
                   description="Energy per 1,000 output tokens."),
        MetricSpec(name="j_per_token", label="Energy per token",
                   direction="lower_is_better", unit="J/token",
                   description="Energy per output token."),
        MetricSpec(name="tokens_per_s", label="Generation speed",
                   direction="higher_is_better", unit="tokens/s",
                   description="Output tokens per second of generation."),
        MetricSpec(name="gco2e_per_prompt", label="Emissions per prompt",
                   direction="lower_is_better", unit="gCO2e",
                   description="Location-based emissions per generated output."),
        MetricSpec(name="gco2e_per_1k_tokens", label="Emissions per 1,000 tokens",
                   direction="lower_is_better", unit="gCO2e/1k tokens",
                   description="Location-based emissions per 1,000 output tokens."),
    )
    output_fields = (
        OutputField(name="energy_j", label="Energy per prompt", unit="J", method_field="energy_method"),
    )
    scope = "run"  # the cost of every generation in the audit, not only the energy workload's
    wants_model_facts = True  # remote outputs are modelled from what ran and where its energy comes from
    batch_size = 4096
    cache_scores = True  # scores read only the generation's measured fields and the options

    def __init__(self, *, options: EnergyOptions | None = None) -> None:
        from auditkit.energy.carbon import grid_intensity
        from auditkit.energy.modelled import model_size

        self.options = options or EnergyOptions()
        self.grid = grid_intensity(zone=self.options.grid, g_per_kwh=self.options.grid_g_per_kwh)
        # Remote adapters: local readings measure only the HTTP client, so every output is modelled.
        # A size given for another adapter only fills outputs that have no figure.
        self.energy_source = _energy_source(self.options)
        self.remote = self.energy_source == "modelled"
        wanted = self.remote or self.options.model_params_b is not None
        self.size = (
            model_size(
                model=self.options.model,
                params_b=self.options.model_params_b,
                active_params_b=self.options.active_params_b,
            )
            if wanted
            else None
        )
        self.identity: Mapping[str, Any] = {
            "scorer": "energy-aggregate",
            "version": "2",
            "grid": self.grid.zone,
            "grid_g_per_kwh": self.grid.g_per_kwh,
            "pue": self.options.pue,
            "idle_baseline_s": self.options.idle_baseline_s,
            **({"modelled_params_b": list(self.size.total_b)} if self.size else {}),
        }

    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        scores: list[Score] = []
        for fig in self._figures(items):
            gen = fig.gen
            if fig.joules is not None:
                scores.append(
                    Score(
                        prompt_id=gen.prompt_id,
                        analyzer=self.name,
                        name="energy_j",
                        value=fig.joules,
                        label=fig.method,
                        details=range_details(fig.low_j, fig.high_j),
                    )
                )
            if gen.latency_s and gen.output_tokens is not None and gen.latency_s > 0:
                scores.append(
                    Score(
                        prompt_id=gen.prompt_id,
                        analyzer=self.name,
                        name="tokens_per_s",
                        value=gen.output_tokens / gen.latency_s,
                    )
                )
        return scores

    def aggregate(self, *, items: Sequence[Observation], scores: Sequence[Score]) -> Analysis:
        figs = self._figures(items)
        idle = self._idle_baseline(figs)
        if idle is not None:
            figs = [_subtract_idle(f, idle) for f in figs]
        metrics = self._metrics(figs, group=None)
        for key in (("suite",), ("suite", "template")):
            groups = sorted({tuple(getattr(f.prompt, k) for k in key) for f in figs})
            if len(groups) < 2:
                continue  # one group repeats the overall figures
            for values in groups:
                subset = [f for f in figs if tuple(getattr(f.prompt, k) for k in key) == values]
                metrics += self._metrics(subset, group=dict(zip(key, values)))
        return Analysis(metrics=tuple(metrics), summary=self._summary(figs, idle))

    # -- figures -------------------------------------------------------------------------------------

    def _figures(self, items: Sequence[Observation]) -> list[_Figure]:
        from auditkit.energy.modelled import modelled_energy

        out = []
        for item in items:
            gen = item.generation
            if not gen.ok:
                continue
            method = gen.energy_method or (m.PROVIDED if gen.energy_j is not None else m.NOT_MEASURED)
            if gen.energy_j is not None and (method == m.PROVIDED or not self.remote):
                info = m.method_info(label=method)
                low = None if info.low_factor is None else gen.energy_j * info.low_factor
                high = None if info.high_factor is None else gen.energy_j * info.high_factor
                out.append(_Figure(item.prompt, gen, gen.energy_j, method, low, high))
            elif self.size is not None and gen.output_tokens is not None:
                est = modelled_energy(output_tokens=gen.output_tokens, size=self.size)
                out.append(_Figure(item.prompt, gen, est.joules, m.MODELLED, est.low_j, est.high_j))
            else:
                out.append(_Figure(item.prompt, gen, None, m.NOT_MEASURED, None, None))
        return out

    def _idle_baseline(self, figs: list[_Figure]) -> Any:
        if self.options.idle_baseline_s <= 0:
            return None
        from auditkit.energy.meter import open_meter

        meter = open_meter(device=self.options.device, energy_source=self.energy_source, adapter=self.options.adapter)
        return meter.measure_idle(seconds=self.options.idle_baseline_s)

    # -- metrics -------------------------------------------------------------------------------------

    def _metrics(self, figs: list[_Figure], *, group: Mapping[str, str] | None) -> list[Metric]:
        from auditkit.energy.carbon import carbon_g

        measured = [f for f in figs if f.joules is not None]
        label = _method_label(measured)
        base = {
            "energy_methods": dict(Counter(f.method for f in measured)),
            "scope": {k: m.method_info(label=k).scope for k in sorted({f.method for f in measured})},
            "not_measured": len(figs) - len(measured),
        }
        mean = bootstrap_mean([f.joules for f in measured], seed=self.options.seed)  # type: ignore[misc]
        ranged = all(f.low_j is not None for f in measured) and measured
        span = (
            (sum(f.low_j for f in measured) / len(measured), sum(f.high_j for f in measured) / len(measured))  # type: ignore[misc]
            if ranged
            else (None, None)
        )
        per_prompt = Metric(
            analyzer=self.name,
            name="j_per_prompt",
            value=mean[0],
            ci_low=mean[1],
            ci_high=mean[2],
            n=len(measured),
            group=group,
            unit="J",
            method=f"mean, bootstrap percentile 95% CI over prompts; energy: {label}",
            details={**base, **range_details(*span), "range_basis": _basis(measured)},
        )
        out = [per_prompt, scaled(per_prompt, name="wh_per_prompt", factor=1 / _J_PER_WH, unit="Wh")]

        with_tokens = [f for f in measured if f.gen.output_tokens]
        ratio = bootstrap_ratio(
            [f.joules for f in with_tokens],  # type: ignore[misc]
            [f.gen.output_tokens for f in with_tokens],  # type: ignore[misc]
            scale=1000 / _J_PER_WH,
            seed=self.options.seed,
        )
        tok = sum(f.gen.output_tokens for f in with_tokens)  # type: ignore[misc]
        span_tok = (
            (
                sum(f.low_j for f in with_tokens) / tok * 1000 / _J_PER_WH,  # type: ignore[misc]
                sum(f.high_j for f in with_tokens) / tok * 1000 / _J_PER_WH,  # type: ignore[misc]
            )
            if ranged and tok
            else (None, None)
        )
        per_1k = Metric(
            analyzer=self.name,
            name="wh_per_1k_tokens",
            value=ratio[0],
            ci_low=ratio[1],
            ci_high=ratio[2],
            n=len(with_tokens),
            group=group,
            unit="Wh/1k tokens",
            method=(
                ("" if ratio[0] is not None else "not measured; ")
                + f"ratio of sums, bootstrap percentile 95% CI over prompts; energy: {label}"
            ),
            details={**base, **range_details(*span_tok), "output_tokens": tok, "range_basis": _basis(measured)},
        )
        out.append(per_1k)
        out.append(scaled(per_1k, name="j_per_token", factor=_J_PER_WH / 1000, unit="J/token"))

        timed = [f for f in figs if f.gen.latency_s and f.gen.output_tokens is not None]
        speed = bootstrap_ratio(
            [float(f.gen.output_tokens) for f in timed],  # type: ignore[arg-type]
            [f.gen.latency_s for f in timed],  # type: ignore[misc]
            scale=1.0,
            seed=self.options.seed,
        )
        out.append(
            Metric(
                analyzer=self.name,
                name="tokens_per_s",
                value=speed[0],
                ci_low=speed[1],
                ci_high=speed[2],
                n=len(timed),
                group=group,
                unit="tokens/s",
                method="ratio of sums (output tokens ÷ wall seconds), bootstrap percentile 95% CI",
            )
        )

        grid = {
            "grid_zone": self.grid.zone,
            "grid_g_per_kwh": self.grid.g_per_kwh,
            "grid_source": self.grid.source,
            "grid_year": self.grid.year,
            "pue": self.options.pue,
            "carbon_basis": "location-based annual average: gCO2e = kWh × PUE × grid intensity",
        }
        factor = carbon_g(joules=1.0, intensity=self.grid, pue=self.options.pue) or 0.0
        for src, name, unit, scale in (
            (per_prompt, "gco2e_per_prompt", "gCO2e", factor),
            (per_1k, "gco2e_per_1k_tokens", "gCO2e/1k tokens", factor * _J_PER_WH),
        ):
            metric = scaled(src, name=name, factor=scale, unit=unit)
            out.append(
                dataclasses.replace(
                    metric,
                    details={**metric.details, **grid},
                    method=f"{src.method}; carbon at {self.grid.g_per_kwh:g} gCO2e/kWh "
                    f"({self.grid.zone}), PUE {self.options.pue:g}",
                )
            )
        return [with_caveat(metric) for metric in out]

    # -- summary -------------------------------------------------------------------------------------

    def _summary(self, figs: list[_Figure], idle: Any) -> dict[str, Any]:
        from auditkit.energy.carbon import carbon_g

        measured = [f for f in figs if f.joules is not None]
        counts = Counter(f.method for f in figs)
        total_j = sum(f.joules for f in measured) if measured else None  # type: ignore[misc]
        labels = {
            k: {
                "outputs": n,
                "kind": m.method_info(label=k).kind,
                "scope": m.method_info(label=k).scope,
                "range": m.method_info(label=k).range_basis,
            }
            for k, n in sorted(counts.items())
        }
        summary: dict[str, Any] = {
            "energy_methods": dict(Counter(f.method for f in measured)),
            "outputs": len(figs),
            "outputs_measured": len(measured),
            "not_measured": counts.get(m.NOT_MEASURED, 0),
            "total_j": total_j,
            "total_wh": None if total_j is None else total_j / _J_PER_WH,
            "total_gco2e": carbon_g(joules=total_j, intensity=self.grid, pue=self.options.pue),
            "output_tokens": sum(f.gen.output_tokens or 0 for f in measured),
            "pue": self.options.pue,
            "method_labels": labels,
            "grid": self.grid.to_dict(),
            "assumptions": self._assumptions(counts),
            "idle_baseline": None if idle is None else dataclasses.asdict(idle),
            "per_prompt_j": [
                {
                    "prompt_id": f.gen.prompt_id,
                    "suite": f.prompt.suite,
                    "template": f.prompt.template,
                    "energy_j": f.joules,
                    "low_j": f.low_j,
                    "high_j": f.high_j,
                    "method": f.method,
                    "output_tokens": f.gen.output_tokens,
                    "latency_s": f.gen.latency_s,
                    "gco2e": carbon_g(joules=f.joules, intensity=self.grid, pue=self.options.pue),
                }
                for f in figs[: self.options.max_listed]
            ],
        }
        from auditkit.energy.methodology import methodology_text

        summary["methodology"] = methodology_text(
            counts=dict(counts),
            grid=self.grid,
            pue=self.options.pue,
            assumptions=summary["assumptions"],
            idle=idle,
        )
        return summary

    def _assumptions(self, counts: Mapping[str, int]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if counts.get(m.ESTIMATED):
            from auditkit.energy.estimate import power_model

            # The analyzer runs where the engine's local meter ran, so this is the model it used.
            out["power_model"] = power_model().to_dict()
        if counts.get(m.MODELLED) and self.size is not None:
            out["modelled"] = {
                **self.size.to_dict(),
                "hardware": "NVIDIA H100 80GB, 16-bit weights, batch 64 (EcoLogits assumptions)",
                "pue_inside_model": 1.0,
            }
        if self.remote and self.size is None:
            out["modelled"] = (
                f"no parameter count for model {self.options.model!r}: pass "
                "--analyzer-arg energy.model_params_b=<billions> to model its energy"
            )
        return out


def _energy_source(options: EnergyOptions) -> str:
    """Where the audited adapter's energy comes from, as its declared abilities say."""
    from auditkit.adapters.base import ENERGY_SOURCES, registered_abilities

    if options.energy_source is not None:
        if options.energy_source not in ENERGY_SOURCES:
            raise ConfigError(
                f"energy.energy_source {options.energy_source!r} is not one of {', '.join(ENERGY_SOURCES)}."
            )
        return options.energy_source
    if options.adapter is None:
        return "local"
    return registered_abilities(name=options.adapter).energy_source


def _subtract_idle(fig: _Figure, idle: Any) -> _Figure:
    """Net of the idle draw over the output's wall time; only for figures of the idle reading's method."""
    if fig.joules is None or fig.method != idle.method or idle.watts is None or not fig.gen.latency_s:
        return fig
    base = idle.watts * fig.gen.latency_s

    def net(x: float | None) -> float | None:
        return None if x is None else max(x - base, 0.0)

    return dataclasses.replace(fig, joules=net(fig.joules), low_j=net(fig.low_j), high_j=net(fig.high_j))


def _method_label(figs: Sequence[_Figure]) -> str:
    counts = Counter(f.method for f in figs)
    return ", ".join(f"{k} ({n})" for k, n in sorted(counts.items())) or "not measured"


def _basis(figs: Sequence[_Figure]) -> str:
    return (
        "; ".join(f"{k}: {m.method_info(label=k).range_basis}" for k in sorted({f.method for f in figs}))
        or "n/a"
    )


@analyzers.register("energy")
@describes(EnergyAnalyzer)
def make_energy(*, options: Mapping[str, Any]) -> EnergyAnalyzer:
    """Energy per prompt and per 1k output tokens with carbon, each figure labelled by how it was obtained."""
    return EnergyAnalyzer(options=EnergyOptions.parse(options))
