"""The CPU-time estimate: its arithmetic, CodeCarbon's TDP table, and that it scales with the work done."""

from __future__ import annotations

import importlib.util

import pytest

from auditkit.energy.estimate import DEFAULT_WATTS_PER_THREAD, estimate_energy, power_model
from auditkit.energy.meter import open_meter


def _burn(n: int) -> int:
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def test_arithmetic_against_hand_computed_values():
    model = power_model(cpu_model="Some Unknown CPU 9000", threads=8)
    assert model.tdp_w is None and model.watts_per_thread == DEFAULT_WATTS_PER_THREAD
    est = estimate_energy(model=model, cpu_s=10.0, wall_s=20.0, rss_gb=2.0)
    # CPU: 10 s × 4 W = 40 J; RAM: 2 GB × 0.375 W/GB × 20 s = 15 J
    assert est.cpu_j == pytest.approx(40.0) and est.ram_j == pytest.approx(15.0)
    assert est.joules == pytest.approx(55.0)
    # low: 10 s × 2 W + 15 J × 0.5; high: 10 s × 10 W + 15 J × 2
    assert est.low_j == pytest.approx(27.5) and est.high_j == pytest.approx(130.0)


@pytest.mark.skipif(importlib.util.find_spec("codecarbon") is None, reason="codecarbon not installed")
def test_known_cpu_uses_codecarbon_tdp_table():
    model = power_model(cpu_model="Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", threads=40)
    assert model.tdp_w == pytest.approx(150.0)
    assert "cpu_power.csv" in model.tdp_source
    assert model.watts_per_thread == pytest.approx(150.0 / 40)
    assert model.watts_per_thread_low < model.watts_per_thread < model.watts_per_thread_high


def test_estimate_scales_with_the_work_done(tmp_path):
    meter = open_meter(device="cpu", rapl_root=tmp_path / "no-powercap")
    assert meter.info["method"] == "estimated"
    n = 2_000_000
    _burn(n // 10)  # warm up
    # Alternate single and double work and keep each one's quietest window: the machine is shared, and
    # the minimum is the reading least disturbed by other tenants.
    runs: dict[int, list] = {n: [], 2 * n: []}
    for _ in range(5):
        for work in (n, 2 * n):
            with meter.measure() as reading:
                _burn(work)
            runs[work].append(reading)
    single = min(runs[n], key=lambda r: r.joules)
    double = min(runs[2 * n], key=lambda r: r.joules)
    assert single.method == double.method == "estimated"
    assert single.joules and single.joules > 0
    ratio = double.joules / single.joules
    assert 1.6 <= ratio <= 2.5, (ratio, single, double)
    assert single.low_j < single.joules < single.high_j


def test_idle_window_costs_far_less_than_work(tmp_path):
    meter = open_meter(device="cpu", rapl_root=tmp_path / "no-powercap")
    idle = meter.measure_idle(seconds=0.3)
    with meter.measure() as busy:
        _burn(1_000_000)
    assert idle.method == "estimated" and idle.watts is not None
    assert idle.watts < busy.joules / busy.wall_s / 2
