"""Modelled energy for remote APIs (EcoLogits method) against a hand-computed value."""

from __future__ import annotations

import math

import pytest

from auditkit.energy.modelled import model_size, modelled_energy
from auditkit.errors import ConfigError

pytest.importorskip("ecologits")


def _hand_wh_per_token(p: float) -> float:
    """EcoLogits' published formula at batch 64, PUE 1 (docs/methodology/llm_inference.md)."""
    alpha, beta, gamma = 1.1665273170451914e-06, -0.011205921025579175, 4.052928146734005e-05
    gpu_wh = alpha * math.exp(beta * 64) * p + gamma
    gpus = 2 ** math.ceil(math.log2(math.ceil(1.2 * p * 16 / 8 / 80)))
    latency = 6.785088094353663e-4 * p + 3.119310311688259e-4 * 64 + 1.9473717579473387e-2
    server_wh = latency / 3600 * 1200 * (gpus / 8) / 64
    return gpus * gpu_wh + server_wh


def test_dense_70b_matches_the_published_formula():
    size = model_size(model=None, params_b=70)
    est = modelled_energy(output_tokens=1000, size=size)
    expected_j = _hand_wh_per_token(70) * 1000 * 3600
    assert est.joules == pytest.approx(expected_j, rel=1e-3)
    assert est.joules / 3600 == pytest.approx(0.548, abs=0.002)  # Wh per 1k tokens at PUE 1
    assert est.low_j == est.high_j == est.joules
    double = modelled_energy(output_tokens=2000, size=size)
    assert double.joules == pytest.approx(2 * est.joules)


def test_known_closed_model_has_a_range():
    size = model_size(model="gpt-4o-mini")
    assert size is not None and size.total_b == (8.0, 28.0)
    assert "model-arch-not-released" in size.warnings
    est = modelled_energy(output_tokens=100, size=size)
    assert est.low_j < est.joules < est.high_j


def test_unknown_model_and_bad_sizes():
    assert model_size(model="my-private-model") is None
    with pytest.raises(ConfigError, match="model_params_b"):
        model_size(model=None, params_b=-3)
    with pytest.raises(ConfigError, match="active_params_b"):
        model_size(model=None, params_b=10, active_params_b=20)
