"""RAPL counters from a fake powercap tree: package domains only, wrap-around, unreadable counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.energy.meter import open_meter
from auditkit.energy.rapl import counter_delta, probe_rapl, read_counters


def _domain(root: Path, name: str, energy: int | None, max_range: int | None, label: str) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "name").write_text(label + "\n")
    if energy is not None:
        (d / "energy_uj").write_text(f"{energy}\n")
    if max_range is not None:
        (d / "max_energy_range_uj").write_text(f"{max_range}\n")
    return d


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "powercap"
    _domain(root, "intel-rapl:0", 1_000_000, 262_143_328_850, "package-0")
    _domain(root, "intel-rapl:0:0", 500_000, 262_143_328_850, "core")  # sub-domain: must be skipped
    _domain(root, "intel-rapl:1", 2_000_000, 262_143_328_850, "package-1")
    (root / "intel-rapl").mkdir()  # the class symlink dir on real systems: not a package domain
    return root


def test_counter_delta_handles_wrap_and_unknowns():
    assert counter_delta(before=100, after=350, max_range_uj=1000) == 250
    # wrapped once: from 900 up to the 1000 wrap point (100) then 0 → 50 (50)
    assert counter_delta(before=900, after=50, max_range_uj=1000) == 150
    assert counter_delta(before=900, after=50, max_range_uj=None) is None
    assert counter_delta(before=None, after=50, max_range_uj=1000) is None


def test_probe_finds_package_domains_only(tree: Path):
    probe = probe_rapl(root=tree)
    assert [d.name for d in probe.domains] == ["package-0", "package-1"]
    assert read_counters(domains=probe.domains) == (1_000_000, 2_000_000)


def test_unreadable_and_missing_counters_are_skipped(tmp_path: Path):
    root = tmp_path / "powercap"
    bad = _domain(root, "intel-rapl:0", None, 1000, "package-0")
    (bad / "energy_uj").mkdir()  # reading it raises (like a root-only file would)
    _domain(root, "intel-rapl:1", None, 1000, "package-1")  # no counter at all
    _domain(root, "intel-rapl:2", 5, None, "package-2")  # readable, wrap point unknown
    probe = probe_rapl(root=root)
    assert [d.name for d in probe.domains] == ["package-2"]
    assert probe.domains[0].max_range_uj is None
    assert len(probe.skipped) == 2 and all("unreadable" in s for s in probe.skipped)
    assert probe_rapl(root=tmp_path / "absent").domains == ()


def test_meter_measures_delta_across_wrap(tree: Path):
    meter = open_meter(device="cpu", rapl_root=tree)
    assert meter.info["method"] == "measured-rapl"
    assert len(meter.info["counters"]) == 2
    max0 = 262_143_328_850
    (tree / "intel-rapl:0" / "energy_uj").write_text(f"{max0 - 1_000_000}\n")
    (tree / "intel-rapl:1" / "energy_uj").write_text("2000000\n")
    with meter.measure() as reading:
        (tree / "intel-rapl:0" / "energy_uj").write_text("3000000\n")  # wrapped: 1 J + 3 J
        (tree / "intel-rapl:1" / "energy_uj").write_text("4500000\n")  # 2.5 J
    assert reading.method == "measured-rapl"
    assert reading.joules == pytest.approx(6.5)
    assert reading.low_j < reading.joules < reading.high_j
    assert reading.details["package_j"] == pytest.approx([4.0, 2.5])


def test_failed_read_mid_window_is_not_measured_never_zero(tree: Path):
    meter = open_meter(device="cpu", rapl_root=tree)
    with meter.measure() as reading:
        (tree / "intel-rapl:1" / "energy_uj").unlink()
    assert reading.joules is None and reading.method == "not-measured"
    assert reading.low_j is None and reading.high_j is None


def test_no_rapl_falls_back_to_labelled_estimate_or_nothing(tmp_path: Path):
    meter = open_meter(device="cpu", rapl_root=tmp_path / "absent")
    assert meter.info["method"] == "estimated"
    assert "does not exist" in meter.info["why_estimated"]
    strict = open_meter(device="cpu", rapl_root=tmp_path / "absent", estimate_fallback=False)
    with strict.measure() as reading:
        pass
    assert reading.joules is None and reading.method == "not-measured"
