"""``auditkit run``: exit codes 0/1/2/3, messages without tracebacks, secrets redacted, SIGKILL + resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditkit.cli.app import main
from auditkit.engine.results import validate_results
from tests.fixtures_engine import FAKES, ScriptedAdapter, write_suite


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from auditkit.cli.app import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_run_exit_0_writes_valid_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=5)
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(suite),
            "--model",
            "mock:echo",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "c.sqlite"),
            "--no-report",
            "--seed",
            "4",
            "--max-new-tokens",
            "3",
        ]
    )
    assert code == 0
    assert f"results: {out / 'results.json'}" in capsys.readouterr().out
    data = _results(out)
    validate_results(data=data)
    assert data["status"] == "complete" and data["manifest"]["generation"]["max_new_tokens"] == 3
    lines = (out / "outputs.jsonl").read_text().splitlines()
    assert len(lines) == 5 and all(len(json.loads(line)["output"].split()) <= 3 for line in lines)


def test_unknown_model_is_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, n=2)
    code = main(["run", str(suite), "--model", "mokc:echo", "--out", str(tmp_path / "o"), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and "Unknown adapter 'mokc'" in err and "Did you mean 'mock'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-size", "lots"], "--batch-size 'lots' must be a positive integer or 'auto'"),
        (["--max-error-rate", "1.5"], "--max-error-rate 1.5 must lie between 0 and 1"),
        (["--analyzer-arg", "nodot=1"], "NAME.KEY=VALUE"),
        (["--analyzers", "toxicity"], "not used by the selected suites"),
        (["--baseline", "somewhere"], "--baseline is used by the gate"),
    ],
)
def test_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    suite = write_suite(tmp_path, n=2)
    code = main(
        ["run", str(suite), "--model", "mock:echo", "--out", str(tmp_path / "o"), "--no-cache", *extra]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_corrupt_cache_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=2)
    bad = tmp_path / "bad.sqlite"
    bad.write_text("garbage, not sqlite\n" * 100)
    code = main(
        ["run", str(suite), "--model", "mock:echo", "--out", str(tmp_path / "o"), "--cache", str(bad)]
    )
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and "--no-cache" in err and "Traceback" not in err


def test_error_budget_exit_3_with_partial_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=12)
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(suite),
            "--model",
            "mock:flaky",
            "--model-arg",
            "rate=1",
            "--out",
            str(out),
            "--no-cache",
            "--no-report",
            "--batch-size",
            "3",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3 and "incomplete" in err and "Traceback" not in err
    data = _results(out)
    validate_results(data=data)
    assert data["status"] == "incomplete" and data["manifest"]["counts"]["errors"] == 3


def test_max_error_rate_one_tolerates_everything(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=4)
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(suite),
            "--model",
            "mock:flaky",
            "--model-arg",
            "rate=1",
            "--out",
            str(out),
            "--no-cache",
            "--no-report",
            "--max-error-rate",
            "1",
            "--quiet",
        ]
    )
    assert code == 0 and _results(out)["manifest"]["counts"]["errors"] == 4


def test_secret_model_args_are_redacted(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=2)
    FAKES["cli"] = ScriptedAdapter()
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(suite),
            "--model",
            "enginefake:cli",
            "--model-arg",
            "api_key=sk-very-secret",
            "--model-arg",
            "dtype=float32",
            "--out",
            str(out),
            "--no-cache",
            "--no-report",
            "-q",
        ]
    )
    assert code == 0
    text = (out / "results.json").read_text()
    assert "sk-very-secret" not in text
    command = _results(out)["manifest"]["command"]
    assert "api_key=***" in command and "dtype=float32" in command


@pytest.mark.parametrize("threshold, expected", [(1000, 0), (1, 1)])
def test_gate_decides_exit_0_or_1(
    tmp_path: Path, threshold: int, expected: int, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, n=2)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "name: test\nrules:\n  - id: short-outputs\n    metric: engine_chars.mean_chars\n"
        f"    on: value\n    comparison: '<='\n    threshold: {threshold}\n    severity: fail\n"
    )
    out = tmp_path / "out"
    code = main(
        ["run", str(suite), "--model", "mock:echo", "--out", str(out), "--no-cache", "--no-report",
         "--policy", str(policy)]
    )
    assert code == expected
    data = _results(out)
    validate_results(data=data)
    assert data["gate"]["passed"] is (expected == 0)
    assert (out / "junit.xml").is_file() and (out / "summary.md").is_file()
    if expected:
        assert "short-outputs" in capsys.readouterr().err


def test_missing_policy_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=2)
    code = main(["run", str(suite), "--model", "mock:echo", "--out", str(tmp_path / "o"), "--no-cache",
                 "--policy", str(tmp_path / "nope.yaml")])
    assert code == 2 and "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_subprocess_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    done = _cli("run", "energy", "--model", "mock:nonexistent", "--out", str(tmp_path / "o"), "--no-cache")
    assert done.returncode == 2, done.stderr
    assert "Unknown mock adapter 'nonexistent'" in done.stderr and "Traceback" not in done.stderr
    out = tmp_path / "ok"
    done = _cli(
        "run",
        "energy",
        "--model",
        "mock:echo",
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--no-report",
    )
    assert done.returncode == 0, done.stderr
    assert "generating: 12/12" in done.stderr  # not a TTY: plain progress lines
    validate_results(data=_results(out))


def _cached_rows(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    out = tmp_path / "out"
    args = [
        "run",
        "energy",
        "--model",
        "mock:slow",
        "--out",
        str(out),
        "--cache",
        str(cache),
        "--batch-size",
        "2",
        "--no-report",
    ]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from auditkit.cli.app import main; main()",
            *args,
            "--model-arg",
            "delay=0.25",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _cached_rows(cache) < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    kept = _cached_rows(cache)
    assert 4 <= kept < 12 and not (out / "results.json").exists()
    # same model identity (the delay is not part of it), now fast: only the rest is generated
    done = _cli(*args, "--model-arg", "delay=0")
    assert done.returncode == 0, done.stderr
    counts = _results(out)["manifest"]["counts"]
    assert counts["cached"] == kept and counts["generated"] == 12 - kept and counts["errors"] == 0


def test_corpus_prompts_join_the_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
        "the age of foolishness.\n\nCall me Ishmael. Some years ago, never mind how long precisely, "
        "having little or no money in my purse.\n"
    )
    suite = write_suite(tmp_path, n=2)
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(suite),
            "--corpus",
            str(corpus),
            "--model",
            "mock:memorizer",
            "--out",
            str(out),
            "--no-cache",
            "--no-report",
            "-q",
        ]
    )
    assert code == 0
    data = _results(out)
    validate_results(data=data)
    corpus_entry = data["manifest"]["suites"][1]
    assert corpus_entry["source"] == str(corpus) and corpus_entry["prompts"] == 2
    assert "memorization" in data["analyses"]
    missing = main(
        [
            "run",
            str(suite),
            "--corpus",
            str(tmp_path / "nope.txt"),
            "--model",
            "mock:echo",
            "--out",
            str(out),
            "--no-cache",
        ]
    )
    assert missing == 2
