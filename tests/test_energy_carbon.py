"""Carbon arithmetic against hand-computed values, and the grid table's provenance."""

from __future__ import annotations

import pytest

from auditkit.energy.carbon import DEFAULT_ZONE, carbon_g, grid_intensity
from auditkit.errors import ConfigError


def test_hand_computed_carbon():
    fra = grid_intensity(zone="FR")  # alpha-2 accepted
    assert fra.zone == "FRA" and fra.g_per_kwh == pytest.approx(56.039) and fra.year == 2023
    assert "Our World in Data" in fra.source
    # 3600 J = 1 Wh = 0.001 kWh; × PUE 1.5 × 56.039 g/kWh = 0.0840585 g
    assert carbon_g(joules=3600.0, intensity=fra, pue=1.5) == pytest.approx(0.0840585)
    assert carbon_g(joules=7.2e6, intensity=grid_intensity(zone="DEU")) == pytest.approx(2 * 380.95)


def test_default_explicit_and_unknown():
    world = grid_intensity()
    assert world.zone == DEFAULT_ZONE and world.g_per_kwh == 475.0 and "IEA" in world.source
    explicit = grid_intensity(g_per_kwh=100.0)
    assert carbon_g(joules=3.6e6, intensity=explicit, pue=1.2) == pytest.approx(120.0)
    assert "explicit" in explicit.source
    with pytest.raises(ConfigError, match="unknown grid zone"):
        grid_intensity(zone="ZZZ")
    with pytest.raises(ConfigError, match="≥ 0"):
        grid_intensity(g_per_kwh=-1)


def test_not_measured_stays_none():
    assert carbon_g(joules=None, intensity=grid_intensity()) is None
