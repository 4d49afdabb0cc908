"""Issue 20, "a new user's first hour": each item gets a test that failed before the fix.

Items 2 (prompt-form rule) and the adapter half of 3 are in tests/test_adapter_openai.py; the real
OpenAI-compatible server is tests/test_served_model.py; the wheel install is tests/test_wheel_install.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditkit.cli.app import main
from tests.fixtures_engine import FAKES, write_suite  # noqa: F401  (FAKES registers the test doubles)
from tests.fixtures_http import LoopbackServer, loopback_server  # noqa: F401


def _run(tmp_path: Path, *args: str) -> int:
    return main(["run", *args, "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "c.sqlite"), "--no-report"])


# -- item 3/4: visible waiting, reasons of a failed run ------------------------------------------------
def test_failed_run_quotes_the_first_distinct_reasons(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback_server.fail("status", status=400, times=None, body="Server is pinned to '/m'; requested 'smollm2'")
    suite = write_suite(tmp_path, n=6)
    code = _run(tmp_path, str(suite), "--model", "openai:smollm2", "--model-arg",
                f"base_url={loopback_server.base_url}", "-q")
    err = capsys.readouterr().err
    assert code == 3
    assert "6 of 6 generations failed" in err
    assert "6×" in err and "Server is pinned to '/m'; requested 'smollm2'" in err


def test_retries_and_per_request_progress_are_shown(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback_server.fail("slow", delay=1.0, times=1, match="item 2")
    suite = write_suite(tmp_path, n=6)
    code = _run(tmp_path, str(suite), "--model", "openai:m", "--model-arg", f"base_url={loopback_server.base_url}",
                "--model-arg", "timeout=0.3", "--model-arg", "backoff=0", "--batch-size", "6")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "timed out after 0.3s" in err and "(attempt 1 of 6); retrying in" in err
    assert "requests: 1 retried attempt(s), 0 request(s) failed for good" in err


def test_progress_advances_per_request_not_per_batch() -> None:
    from auditkit.adapters.events import RequestEvent
    from auditkit.engine.progress import Progress
    from auditkit.engine.watch import RequestWatcher

    with Progress(quiet=True) as progress:
        task = progress.task(description="generating", total=4)
        watcher = RequestWatcher(progress=progress, task=task)
        watcher(RequestEvent(kind="done", prompt_id="a"))
        assert task.completed == 1  # before the batch of 4 is over
        watcher(RequestEvent(kind="done", prompt_id="b", ok=False, reason="HTTP 400"))
        watcher.settle(["a", "b", "c", "d"])  # the batch ends: only the two unheard prompts are added
        assert task.completed == 4 and watcher.failed == 1


# -- item 5: replay lines for prompts that are not planned ----------------------------------------------
def test_unplanned_replay_lines_are_named_in_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=3)
    assert main(["prompts", str(suite), "-o", str(tmp_path / "p.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    lines = [{"id": r["id"], "output": "ok"} for r in rows] + [{"id": "not-a-planned-id", "output": "x"}]
    replay = tmp_path / "r.jsonl"
    replay.write_text("".join(json.dumps(x) + "\n" for x in lines))
    capsys.readouterr()
    assert _run(tmp_path, str(suite), "--model", f"replay:{replay}", "-q") == 0
    err = capsys.readouterr().err
    assert "1 line(s) for prompts this run does not plan (not-a-planned-id)" in err
