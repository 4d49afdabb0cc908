"""Durability: SIGKILL mid-run and resume, concurrent WAL readers, damaged cache files.

test_cli_run.py already kills a run and checks the resumed counts; here the model is a ``python:``
adapter that appends every prompt it generates to a log file (flushed and fsynced per prompt), so the
test can prove across processes that every committed generation was reused, none was generated twice
after resuming, and the resumed results equal those of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from auditkit.engine.cache import GenerationCache
from auditkit.records import Generation
from tests.fixtures_reliability import (
    cache_rows,
    normalized_outputs,
    normalized_results,
    run_cli,
    write_word_suite,
)

# The adapter reads its delay and log file from the environment: --model-arg values would enter the
# adapter identity (and so the cache key), and the killed and resumed runs must share one identity.
LOGGING_MODEL = '''
import os, time

def make():
    delay = float(os.environ.get("RELIABILITY_DELAY", "0"))
    log = os.environ["RELIABILITY_LOG"]

    def generate(prompts):
        outputs = []
        for text in prompts:
            time.sleep(delay)
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(text + "\\n")
                handle.flush()
                os.fsync(handle.fileno())
            outputs.append(" ".join(reversed(text.split())))
        return outputs

    return generate
'''


def _cli_process(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:  # noqa: ANN003
    return subprocess.Popen(
        [sys.executable, "-c", "from auditkit.cli.app import main; main()", *map(str, args)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _logged(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.mark.slow
def test_sigkill_then_resume_reuses_everything_duplicates_nothing_and_matches(tmp_path: Path) -> None:
    n = 20
    suite = write_word_suite(tmp_path, n=n)
    model = tmp_path / "logging_model.py"
    model.write_text(LOGGING_MODEL, encoding="utf-8")

    def args(out: Path, cache: Path) -> list[str]:
        return ["run", suite, "--model", f"python:{model}:make", "--out", out, "--cache", cache,
                "--batch-size", "2", "--no-report", "-q"]  # fmt: skip

    # the reference: the same audit, never interrupted, with its own cache
    reference_log = tmp_path / "reference.log"
    reference = _cli_process(args(tmp_path / "reference", tmp_path / "reference.sqlite"),
                             {"RELIABILITY_LOG": str(reference_log)})  # fmt: skip
    assert reference.wait(timeout=120) == 0, reference.stderr.read() if reference.stderr else ""

    cache, out = tmp_path / "cache.sqlite", tmp_path / "out"
    killed_log, resumed_log = tmp_path / "killed.log", tmp_path / "resumed.log"
    proc = _cli_process(args(out, cache), {"RELIABILITY_LOG": str(killed_log), "RELIABILITY_DELAY": "0.15"})
    try:
        deadline = time.monotonic() + 90
        while len(cache_rows(cache)) < 6 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.json").exists(), "a killed run must not leave a results.json behind"

    committed = cache_rows(cache)
    assert 6 <= len(committed) < n and len(set(committed)) == len(committed)
    # at most the batch in flight (2 prompts) was generated but not committed when the process died
    assert len(committed) <= len(_logged(killed_log)) <= len(committed) + 2

    resumed = _cli_process(args(out, cache), {"RELIABILITY_LOG": str(resumed_log)})
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read() if resumed.stderr else ""

    outputs = [json.loads(line) for line in (out / "outputs.jsonl").read_text(encoding="utf-8").splitlines()]
    by_id = {line["id"]: line for line in outputs}
    assert len(by_id) == len(outputs) == n
    reused = {pid for pid, line in by_id.items() if line["cached"]}
    assert reused == set(committed), "every committed generation is reused, and only those"
    generated_again = _logged(resumed_log)
    assert Counter(generated_again).most_common(1)[0][1] == 1, "no prompt generated twice on resume"
    assert len(generated_again) == n - len(committed)
    texts_of_reused = {by_id[pid]["prompt"] for pid in reused}
    assert texts_of_reused.isdisjoint(generated_again)
    counts = json.loads((out / "results.json").read_text())["manifest"]["counts"]
    assert counts["cached"] == len(committed) and counts["generated"] == n - len(committed)
    assert counts["errors"] == 0

    rows = cache_rows(cache)
    assert len(rows) == n and len(set(rows)) == n, "one cache row per prompt, none duplicated"
    assert normalized_results(out, resumed=True) == normalized_results(tmp_path / "reference", resumed=True)
    assert normalized_outputs(out, resumed=True) == normalized_outputs(tmp_path / "reference", resumed=True)


def test_readers_see_only_whole_batches_while_a_writer_commits(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    GenerationCache(path=path).close()
    batches, size = 40, 25
    stop = threading.Event()
    problems: list[str] = []
    seen_counts: list[int] = []

    def read() -> None:
        reader = GenerationCache(path=path)
        try:
            while not stop.is_set():
                count = reader.count()
                if count % size:
                    problems.append(f"reader saw {count} rows: half a batch")
                seen_counts.append(count)
                found = reader.get_many([f"k{i}" for i in range(count)])
                if len(found) < count:
                    problems.append(f"rows vanished: {len(found)} < {count}")
        except Exception as exc:  # noqa: BLE001 - any failure of a reader is what this test looks for
            problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            reader.close()

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    # a separate process writes, as a second `auditkit run` would
    writer = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom auditkit.engine.cache import GenerationCache\nfrom auditkit.records import Generation\n"
         f"c = GenerationCache(path=__import__('pathlib').Path({str(path)!r}))\n"
         f"for b in range({batches}):\n"
         f"    c.put_many((f'k{{i}}', Generation(prompt_id=f'p{{i}}', output='x' * 500)) "
         f"for i in range(b * {size}, (b + 1) * {size}))\n"
         "c.close()\n"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    stop.set()
    for thread in readers:
        thread.join(timeout=30)
    assert writer.returncode == 0, writer.stderr
    assert problems == []
    assert max(seen_counts) <= batches * size and len(seen_counts) > 3
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == batches * size
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def _filled_cache(tmp_path: Path, suite: Path) -> Path:
    cache = tmp_path / "cache.sqlite"
    done = run_cli(["run", suite, "--model", "mock:echo", "--out", tmp_path / "first", "--cache", cache,
                    "--no-report", "-q"])  # fmt: skip
    assert done.code == 0, done.err
    db = sqlite3.connect(cache)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file, as after a clean exit
    db.close()
    return cache


def _assert_way_out(result, cache: Path) -> None:  # noqa: ANN001
    assert result.code == 2, result.err
    assert str(cache) in result.err and "Traceback" not in result.err
    assert "--no-cache" in result.err and "Delete the file" in result.err and "--cache" in result.err


def test_truncated_cache_file_is_exit_2_with_a_way_out_that_works(tmp_path: Path) -> None:
    suite = write_word_suite(tmp_path, n=20, template="{{ word }} " + "padding words to fill pages " * 60)
    cache = _filled_cache(tmp_path, suite)
    size = cache.stat().st_size
    assert size > 8192
    with cache.open("r+b") as handle:  # a disk that filled up, a copy cut short
        handle.truncate(size // 2)
    for stale in (cache.with_name(cache.name + "-wal"), cache.with_name(cache.name + "-shm")):
        stale.unlink(missing_ok=True)
    args = ["run", suite, "--model", "mock:echo", "--out", tmp_path / "out", "--no-report", "-q"]
    _assert_way_out(run_cli([*args, "--cache", cache]), cache)
    # the ways out the message offers both work
    assert run_cli([*args, "--no-cache"]).code == 0
    assert run_cli([*args, "--cache", tmp_path / "fresh.sqlite"]).code == 0
    cache.unlink()
    assert run_cli([*args, "--cache", cache]).code == 0 and len(cache_rows(cache)) == 20


def test_unreadable_cache_entry_is_exit_2_with_a_way_out(tmp_path: Path) -> None:
    suite = write_word_suite(tmp_path, n=4)
    cache = _filled_cache(tmp_path, suite)
    db = sqlite3.connect(cache)
    db.execute("UPDATE generations SET data = '{\"prompt_id\": 3' WHERE rowid = 1")  # a torn JSON value
    db.commit()
    db.close()
    result = run_cli(["run", suite, "--model", "mock:echo", "--out", tmp_path / "out", "--cache", cache, "-q"])
    _assert_way_out(result, cache)
    assert "unreadable entry" in result.err


def test_cache_that_is_a_directory_or_a_foreign_sqlite_file(tmp_path: Path) -> None:
    suite = write_word_suite(tmp_path, n=2)
    args = ["run", suite, "--model", "mock:echo", "--out", tmp_path / "out", "--no-report", "-q"]
    directory = tmp_path / "adir.sqlite"
    directory.mkdir()
    _assert_way_out(run_cli([*args, "--cache", directory]), directory)
    foreign = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE generations (something_else INTEGER)")
    db.commit()
    db.close()
    _assert_way_out(run_cli([*args, "--cache", foreign]), foreign)


def test_a_killed_cache_copy_with_its_wal_keeps_committed_rows(tmp_path: Path) -> None:
    """A WAL file left by a dead writer is recovered on the next open: committed rows are all there."""
    path = tmp_path / "c.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import os, signal\nfrom pathlib import Path\nfrom auditkit.engine.cache import GenerationCache\n"
         "from auditkit.records import Generation\n"
         f"c = GenerationCache(path=Path({str(path)!r}))\n"
         "for b in range(5):\n"
         "    c.put_many((f'k{i}', Generation(prompt_id=f'p{i}', output='y')) for i in range(b * 10, b * 10 + 10))\n"
         "c._db.execute('BEGIN IMMEDIATE')\n"
         "c._db.executemany('INSERT INTO generations (key, prompt_id, data) VALUES (?, ?, ?)',"
         " [(f'u{i}', f'u{i}', '{}') for i in range(10)])\n"
         "os.kill(os.getpid(), signal.SIGKILL)\n"],
    )  # fmt: skip
    assert writer.wait(timeout=60) == -signal.SIGKILL
    assert path.with_name(path.name + "-wal").exists()
    copy = tmp_path / "copy" / "c.sqlite"
    copy.parent.mkdir()
    for name in ("c.sqlite", "c.sqlite-wal"):
        shutil.copy(tmp_path / name, copy.parent / name)
    cache = GenerationCache(path=copy)
    try:
        assert cache.count() == 50  # the five committed batches; the uncommitted one is gone
        assert set(cache.get_many([f"k{i}" for i in range(50)])) == {f"k{i}" for i in range(50)}
        assert cache.get_many(["u0"]) == {}
        cache.put_many([("k99", Generation(prompt_id="p99", output="z"))])
        assert cache.count() == 51
    finally:
        cache.close()
