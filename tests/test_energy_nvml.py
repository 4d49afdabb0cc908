"""NVML counters through a fake ``pynvml`` module: deltas, synchronisation, missing counters."""

from __future__ import annotations

import sys
import types

import pytest

from auditkit.energy.meter import open_meter
from auditkit.energy.nvml import device_indices


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


def _fake_pynvml(counters: dict[int, int | None], *, init_fails: bool = False) -> types.ModuleType:
    """``counters[i]`` is GPU i's mJ counter; ``None`` means the GPU has no total-energy counter."""
    mod = types.ModuleType("pynvml")
    mod.NVMLError = NVMLError
    mod.calls = []

    def init() -> None:
        if init_fails:
            raise NVMLError("Driver Not Loaded")

    def energy(handle: int) -> int:
        mod.calls.append(("energy", handle))
        value = counters[handle]
        if value is None:
            raise NVMLError_NotSupported("Not Supported")
        return value

    mod.nvmlInit = init
    mod.nvmlShutdown = lambda: None
    mod.nvmlDeviceGetCount = lambda: len(counters)
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetName = lambda h: f"Fake H100 #{h}".encode()
    mod.nvmlDeviceGetTotalEnergyConsumption = energy
    return mod


def test_counter_delta_in_joules(monkeypatch: pytest.MonkeyPatch):
    counters = {0: 5_000_000, 1: 9_000_000}
    fake = _fake_pynvml(counters)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    meter = open_meter(device="cuda")
    assert meter.info["method"] == "measured-nvml"
    assert len(meter.info["counters"]) == 2 and "Fake H100 #0" in meter.info["counters"][0]
    with meter.measure() as reading:
        counters[0] += 12_500  # 12.5 J
        counters[1] += 2_000  # 2 J
    assert reading.method == "measured-nvml"
    assert reading.joules == pytest.approx(14.5)
    assert reading.details["gpu_j"] == pytest.approx([12.5, 2.0])
    assert reading.low_j == pytest.approx(14.5 * 0.95) and reading.high_j == pytest.approx(14.5 * 1.05)


def test_single_device_honours_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch):
    counters = {0: 0, 1: 0, 2: 0}
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(counters))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert device_indices(device="cuda:0", count=3) == [2]
    meter = open_meter(device="cuda:0")
    with meter.measure() as reading:
        counters[2] += 3_000
        counters[0] += 99_000  # another GPU's work is not ours
    assert reading.joules == pytest.approx(3.0)


def test_synchronizes_torch_before_reading(monkeypatch: pytest.MonkeyPatch):
    counters = {0: 0}
    fake = _fake_pynvml(counters)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    cuda = types.SimpleNamespace(
        is_available=lambda: True,
        is_initialized=lambda: True,
        synchronize=lambda: fake.calls.append(("sync", None)),
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    meter = open_meter(device="cuda")
    fake.calls.clear()
    with meter.measure():
        pass
    assert fake.calls == [("sync", None), ("energy", 0), ("sync", None), ("energy", 0)]


def test_gpu_without_energy_counter_is_skipped(monkeypatch: pytest.MonkeyPatch):
    counters = {0: None, 1: 1000}
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(counters))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    meter = open_meter(device="cuda")
    assert len(meter.info["counters"]) == 1
    assert any("no total-energy counter" in s for s in meter.info["skipped"])


def test_no_counter_anywhere_is_not_measured_never_zero(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml({0: None}))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    meter = open_meter(device="cuda")
    assert meter.info["method"] == "not-measured"
    assert "no total-energy counter" in meter.info["why_not_measured"]
    with meter.measure() as reading:
        pass
    assert reading.joules is None and reading.method == "not-measured"


def test_nvml_init_failure_and_counter_reset(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml({0: 0}, init_fails=True))
    assert "could not be initialised" in open_meter(device="cuda").info["why_not_measured"]

    counters = {0: 50_000}
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(counters))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    meter = open_meter(device="cuda")
    with meter.measure() as reading:
        counters[0] = 10  # driver reloaded: the counter restarted
    assert reading.joules is None and reading.method == "not-measured"
    with meter.measure() as reading:
        counters[0] = None  # the read itself fails
    assert reading.joules is None


def test_remote_adapter_measures_nothing_locally():
    meter = open_meter(device="cpu", energy_source="modelled", adapter="openai")
    assert meter.info["method"] == "not-measured"
    assert "remotely" in meter.info["why_not_measured"]


def test_replay_adapter_measures_nothing_locally():
    meter = open_meter(device="cpu", energy_source="replayed", adapter="replay")
    with meter.measure() as reading:
        pass
    assert reading.joules is None and "replayed" in meter.info["why_not_measured"]
