"""Energy cost of the audited generations: joules per prompt, Wh per 1k output tokens, tokens per second.

The engine's meter attributes each batch's energy to its generations (``Generation.energy_j`` with
``energy_method``); replay files may carry provider-measured ``energy_j`` ("provided"). This analyzer
only aggregates: where no figure exists the metric is ``None`` ("not measured"), never 0, and every
metric names the method(s) its figures came from.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

from auditkit.analyzers.base import Analysis, Observation, analyzers
from auditkit.records import Metric, Score
from auditkit.stats import bootstrap_mean_interval, mean_interval

__all__ = ["EnergyAnalyzer", "make_energy"]

_J_PER_WH = 3600.0


class EnergyAnalyzer:
    """Aggregates per-output energy, latency and token counts into per-prompt and per-token costs."""

    name = "energy"
    batch_size = 4096

    def __init__(self, *, seed: int = 0) -> None:
        self._seed = seed
        self.identity: Mapping[str, Any] = {"scorer": "energy-aggregate", "version": "1"}

    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        scores: list[Score] = []
        for item in items:
            gen = item.generation
            if gen.energy_j is not None:
                scores.append(
                    Score(prompt_id=gen.prompt_id, analyzer=self.name, name="energy_j",
                          value=gen.energy_j, label=gen.energy_method)
                )
            if gen.latency_s and gen.output_tokens is not None and gen.latency_s > 0:
                scores.append(
                    Score(prompt_id=gen.prompt_id, analyzer=self.name, name="tokens_per_s",
                          value=gen.output_tokens / gen.latency_s)
                )
        return scores

    def aggregate(self, *, items: Sequence[Observation], scores: Sequence[Score]) -> Analysis:
        ok = [i.generation for i in items if i.generation.ok]
        measured = [g for g in ok if g.energy_j is not None]
        methods = Counter(g.energy_method or "unknown" for g in measured)
        method_label = ", ".join(f"{m} ({n})" for m, n in sorted(methods.items())) or "not measured"
        metrics: list[Metric] = []

        joules = [g.energy_j for g in measured if g.energy_j is not None]
        per_prompt = bootstrap_mean_interval(values=joules, seed=self._seed)
        metrics.append(
            Metric(analyzer=self.name, name="j_per_prompt", value=per_prompt.value,
                   ci_low=per_prompt.low, ci_high=per_prompt.high, n=per_prompt.n,
                   method=f"{per_prompt.method}; energy: {method_label}", unit="J",
                   details={"energy_methods": dict(methods), "not_measured": len(ok) - len(measured)})
        )
        metrics.append(_scaled(metrics[-1], name="wh_per_prompt", factor=1 / _J_PER_WH, unit="Wh"))

        with_tokens = [g for g in measured if g.output_tokens]
        metrics.append(self._wh_per_1k_tokens(with_tokens, method_label))

        speeds = [s.value for s in scores if s.analyzer == self.name and s.name == "tokens_per_s"
                  and s.value is not None]
        speed = mean_interval(values=speeds)
        metrics.append(
            Metric(analyzer=self.name, name="tokens_per_s", value=speed.value, ci_low=speed.low,
                   ci_high=speed.high, n=speed.n, method=speed.method, unit="tokens/s")
        )
        summary = {
            "energy_methods": dict(methods),
            "outputs": len(ok),
            "outputs_measured": len(measured),
            "per_prompt_j": [
                {"prompt_id": g.prompt_id, "energy_j": g.energy_j, "output_tokens": g.output_tokens}
                for g in measured[:500]
            ],
        }
        return Analysis(metrics=tuple(metrics), summary=summary)

    def _wh_per_1k_tokens(self, gens: list[Any], method_label: str) -> Metric:
        """Ratio of sums (total Wh / total tokens × 1000), with a bootstrap CI over outputs."""
        import numpy as np
        from scipy.stats import bootstrap

        method = f"ratio of sums, bootstrap percentile 95% CI over outputs; energy: {method_label}"
        if not gens:
            return Metric(analyzer=self.name, name="wh_per_1k_tokens", value=None, n=0,
                          method=f"not measured; {method}", unit="Wh/1k tokens")
        energy = np.array([g.energy_j for g in gens], dtype=float) / _J_PER_WH
        tokens = np.array([g.output_tokens for g in gens], dtype=float)
        value = float(energy.sum() / tokens.sum() * 1000)
        low = high = value
        if len(gens) > 1:
            result = bootstrap(
                (energy, tokens), lambda e, t, axis=-1: e.sum(axis=axis) / t.sum(axis=axis) * 1000,
                paired=True, vectorized=True, method="percentile", n_resamples=2000,
                random_state=np.random.default_rng(self._seed),
            )
            low, high = (float(x) for x in result.confidence_interval)
        return Metric(analyzer=self.name, name="wh_per_1k_tokens", value=value, ci_low=low, ci_high=high,
                      n=len(gens), method=method, unit="Wh/1k tokens")


def _scaled(metric: Metric, *, name: str, factor: float, unit: str) -> Metric:
    def scale(x: float | None) -> float | None:
        return None if x is None else x * factor

    return Metric(analyzer=metric.analyzer, name=name, value=scale(metric.value), ci_low=scale(metric.ci_low),
                  ci_high=scale(metric.ci_high), n=metric.n, method=metric.method, unit=unit,
                  details=metric.details)


@analyzers.register("energy")
def make_energy(*, options: Mapping[str, Any]) -> EnergyAnalyzer:
    """Energy per prompt and per 1k output tokens, each figure labelled by how it was obtained."""
    unknown = set(options) - {"seed"}
    if unknown:
        from auditkit.errors import ConfigError

        raise ConfigError(f"energy analyzer: unknown option(s) {sorted(unknown)}; known: seed.")
    return EnergyAnalyzer(seed=int(options.get("seed", 0)))
