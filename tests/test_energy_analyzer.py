"""The energy analyzer aggregates attributed joules; missing figures stay n/a, never 0."""

from __future__ import annotations

import pytest

from auditkit.analyzers.base import Observation, build_analyzer
from auditkit.errors import ConfigError
from auditkit.records import Generation, Prompt


def _obs(i: int, *, energy: float | None, tokens: int = 10, latency: float = 0.5) -> Observation:
    prompt = Prompt(id=f"p{i}", suite="s", template="t", prompt="x", analyzers=("energy",))
    gen = Generation(prompt_id=prompt.id, output="y", output_tokens=tokens, latency_s=latency,
                     energy_j=energy, energy_method=None if energy is None else "estimated")
    return Observation(prompt=prompt, generation=gen)


def _run(items):
    analyzer = build_analyzer(name="energy", options={})
    scores = analyzer.score(items=items)
    return {m.name: m for m in analyzer.aggregate(items=items, scores=scores).metrics}


def test_ratio_of_sums_and_per_prompt_mean():
    items = [_obs(0, energy=36.0, tokens=10), _obs(1, energy=72.0, tokens=30)]
    metrics = _run(items)
    assert metrics["j_per_prompt"].value == pytest.approx(54.0)
    assert metrics["wh_per_prompt"].value == pytest.approx(54.0 / 3600)
    # (36 + 72) J = 0.03 Wh over 40 tokens → 0.75 Wh per 1k tokens (not the mean of per-output ratios)
    assert metrics["wh_per_1k_tokens"].value == pytest.approx(0.75)
    assert metrics["wh_per_1k_tokens"].ci_low <= 0.75 <= metrics["wh_per_1k_tokens"].ci_high
    assert "estimated" in metrics["j_per_prompt"].method
    assert metrics["tokens_per_s"].value == pytest.approx((20 + 60) / 2)


def test_not_measured_is_none_not_zero():
    metrics = _run([_obs(0, energy=None), _obs(1, energy=None)])
    assert metrics["j_per_prompt"].value is None
    assert metrics["wh_per_1k_tokens"].value is None
    assert "not measured" in metrics["wh_per_1k_tokens"].method
    assert metrics["j_per_prompt"].details["not_measured"] == 2


def test_unknown_option_is_a_config_error():
    # "grid" became a real option (carbon intensity zone); a misspelt option is still refused.
    with pytest.raises(ConfigError, match="unknown option"):
        build_analyzer(name="energy", options={"gird": "FR"})
    with pytest.raises(ConfigError, match="unknown grid zone"):
        build_analyzer(name="energy", options={"grid": "XX"})
    with pytest.raises(ConfigError, match="pue"):
        build_analyzer(name="energy", options={"pue": "0.5"})
