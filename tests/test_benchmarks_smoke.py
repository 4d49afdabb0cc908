"""The benchmark harness runs (no timing assertions: figures live in benchmarks/RESULTS.md).

Also regression tests for two failures the 100k replay benchmark found: the bias analyzer's
minimum-detectable-effect check overflowed past 1023 pairs, and the report's histogram crashed on
values that differ only by float rounding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import Measure, run_child
from benchmarks.__main__ import main


def test_startup_benchmark_runs_and_writes_nothing_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--quick", "--only", "startup", "--no-write", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "auditkit --help start-up" in out and "auditkit suites list start-up" in out
    assert "heavy" not in out or code in (0, 1)


def test_measure_ratio_and_verdict() -> None:
    slow = Measure(benchmark="b", measure="m", value=1.2, baseline=1.0, unit="s", target=1.1)
    assert slow.ratio == pytest.approx(1.2) and slow.passed is False
    absolute = Measure(benchmark="b", measure="m", value=0.5, unit="s", target=1.0, target_on="value")
    assert absolute.passed is True and absolute.ratio is None
    assert json.loads(json.dumps(slow.to_dict()))["passed"] is False


def test_child_peak_rss_is_the_childs_own(tmp_path: Path) -> None:
    big = run_child(["python3", "-c", "x = bytearray(150_000_000)"])
    small = run_child(["python3", "-c", "pass"])
    assert big.returncode == 0 and big.peak_rss_mb > 140
    assert small.peak_rss_mb < big.peak_rss_mb


def test_replay_fixture_expands_to_counterfactual_triples(tmp_path: Path) -> None:
    from benchmarks.bench_replay100k import build_fixture

    suite, replay = build_fixture(root=tmp_path, n=30)
    lines = [json.loads(line) for line in replay.read_text().splitlines()]
    assert len(lines) == 30 and all(line["output"] for line in lines)
    assert suite.is_file()


def test_mde_check_survives_thousands_of_pairs() -> None:
    import inspect

    from auditkit.analyzers.bias_compare import attach_mde

    source = inspect.getsource(attach_mde)
    assert "2 ** c.n" not in source  # int power overflowed float division past 1023 pairs
    assert 2.0 ** (1 - 5000) == 0.0


def test_histogram_of_float_dust_values() -> None:
    from auditkit.report.distribution import bin_values

    edges, counts = bin_values([99.99999999999999, 100.0, 100.0])
    assert sum(counts) == 3 and edges[0] < 100.0 < edges[-1]
