"""``auditkit run`` end to end against a flaky OpenAI-compatible server on 127.0.0.1.

The adapter's own tests (test_adapter_openai.py) check each fault in isolation; these run the whole CLI:
faults retried away give a complete run whose outputs equal the server's real answers; persistent
failures become error records with their reasons, are never scored, and count against --max-error-rate
(exit 3 with partial results when exceeded); a rerun retries only what failed.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from auditkit.engine.results import validate_results
from tests.fixtures_http import LoopbackServer, loopback_server, reply_for  # noqa: F401
from tests.fixtures_reliability import WORDS, run_cli, write_word_suite

ENV = "AUDITKIT_RELIABILITY_KEY"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "sk-reliability-faults")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _args(server: LoopbackServer, suite: Path, out: Path, *extra: str) -> list[str]:
    return [
        "run", suite, "--model", "openai:loopback-model", "--base-url", server.base_url,
        "--api-key-env", ENV, "--out", out, "--no-report", "-q",
        "--model-arg", "backoff=0.01", "--model-arg", "timeout=0.5", "--concurrency", "4", *extra,
    ]  # fmt: skip


def _lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "outputs.jsonl").read_text(encoding="utf-8").splitlines()]


def test_transient_faults_are_retried_to_a_complete_run(tmp_path: Path, loopback_server: LoopbackServer) -> None:
    suite = write_word_suite(tmp_path, n=8)
    server = loopback_server
    server.fail("status", status=429, times=2, match="alpha", retry_after="0.3")
    server.fail("status", status=500, times=2, match="bravo")
    server.fail("status", status=503, times=1, match="charlie")
    server.fail("truncated", times=1, match="delta")
    server.fail("drop", times=1, match="echo")
    server.fail("slow", times=1, match="foxtrot", delay=3.0)  # beyond the 0.5 s client timeout
    out = tmp_path / "out"
    result = run_cli(_args(server, suite, out, "--no-cache", "--max-error-rate", "0"))
    assert result.code == 0, result.err
    assert "Traceback" not in result.err

    data = json.loads((out / "results.json").read_text())
    validate_results(data=data)
    assert data["status"] == "complete"
    assert data["manifest"]["counts"]["errors"] == 0 and data["manifest"]["counts"]["generated"] == 8
    for line in _lines(out):
        assert line["error"] is None
        assert line["output"] == reply_for(line["prompt"], max_tokens=16)  # the real answer, after retries
        assert isinstance(line["scores"]["toxicity.toxicity"], float)
    # one request per prompt plus one per scripted fault: every fault was retried, nothing else was
    assert len(server.requests) == 8 + 2 + 2 + 1 + 1 + 1 + 1
    # Retry-After is honoured: the rate-limited prompt's retries wait the server's 0.3 s each
    alpha = [r.at for r in server.requests_matching("alpha")]
    assert len(alpha) == 3 and all(b - a >= 0.28 for a, b in pairwise(alpha))


def test_failures_above_the_budget_exit_3_with_reasons_and_unscored(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    suite = write_word_suite(tmp_path, n=10)
    failing = ("alpha", "bravo", "charlie")
    for word in failing:  # the server never recovers for these prompts
        loopback_server.fail("status", status=500, times=None, match=word, body=f"overloaded {word}")
    out = tmp_path / "out"
    result = run_cli(
        _args(loopback_server, suite, out, "--no-cache", "--max-error-rate", "0.1", "--model-arg", "max_retries=2")
    )
    assert result.code == 3, result.err
    assert "incomplete" in result.err and "3 of 10 generations failed" in result.err
    assert "Traceback" not in result.err

    data = json.loads((out / "results.json").read_text())
    validate_results(data=data)
    assert data["status"] == "incomplete"
    assert "3 of 10 generations failed" in data["manifest"]["status_reason"]
    assert data["manifest"]["counts"]["errors"] == 3 and data["manifest"]["counts"]["generated"] == 7
    lines = {line["attributes"]["word"]: line for line in _lines(out)}
    assert len(lines) == 10
    for word in failing:
        line = lines[word]
        assert line["output"] is None
        # the reason names the attempts and quotes the server, and the failed output is never scored
        assert line["error"].startswith("gave up after 3 attempt(s): HTTP 500")
        assert f"overloaded {word}" in line["error"]
        assert line["scores"] == {} and line["labels"] == {}
    for word in WORDS[3:10]:
        assert lines[word]["error"] is None and isinstance(lines[word]["scores"]["toxicity.toxicity"], float)
    # each failing prompt was tried exactly max_retries + 1 times
    assert all(len(loopback_server.requests_matching(w)) == 3 for w in failing)
    overall = next(m for m in data["metrics"] if m["name"] == "toxic_fraction" and m["group"] is None)
    assert overall["n"] == 7  # aggregated over the successful outputs only


def test_failures_within_budget_complete_and_only_they_are_retried(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    suite = write_word_suite(tmp_path, n=10)
    cache = tmp_path / "cache.sqlite"
    loopback_server.fail("status", status=502, times=None, match="golf")
    first = run_cli(
        _args(loopback_server, suite, tmp_path / "one", "--cache", cache, "--max-error-rate", "0.2",
              "--model-arg", "max_retries=1")
    )  # fmt: skip
    assert first.code == 0, first.err
    data = json.loads((tmp_path / "one" / "results.json").read_text())
    assert data["status"] == "complete" and data["manifest"]["counts"]["errors"] == 1
    golf = next(line for line in _lines(tmp_path / "one") if line["attributes"]["word"] == "golf")
    assert golf["output"] is None and "HTTP 502" in golf["error"] and golf["scores"] == {}

    loopback_server.state.faults.clear()  # the server recovered
    before = len(loopback_server.requests)
    second = run_cli(_args(loopback_server, suite, tmp_path / "two", "--cache", cache))
    assert second.code == 0, second.err
    retried = loopback_server.requests[before:]
    assert len(retried) == 1 and "golf" in retried[0].body["prompt"]  # a plain prompt: /completions
    counts = json.loads((tmp_path / "two" / "results.json").read_text())["manifest"]["counts"]
    assert counts["cached"] == 9 and counts["generated"] == 1 and counts["errors"] == 0


def test_unreachable_server_is_an_incomplete_run_not_a_crash(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    suite = write_word_suite(tmp_path, n=3)
    out = tmp_path / "out"
    result = run_cli(
        ["run", suite, "--model", "openai:m", "--base-url", f"http://127.0.0.1:{port}/v1", "--api-key-env", ENV,
         "--out", out, "--no-cache", "--no-report", "-q", "--model-arg", "backoff=0", "--model-arg", "max_retries=1"]
    )  # fmt: skip
    assert result.code == 3 and "Traceback" not in result.err
    lines = _lines(out)
    assert all(line["output"] is None and "connection failed" in line["error"] for line in lines)
    assert json.loads((out / "results.json").read_text())["status"] == "incomplete"


def test_bad_key_stops_the_run_with_exit_2(tmp_path: Path, loopback_server: LoopbackServer) -> None:
    loopback_server.fail("status", status=401, times=None, body="invalid key {authorization}")
    suite = write_word_suite(tmp_path, n=3)
    result = run_cli(_args(loopback_server, suite, tmp_path / "out", "--no-cache"))
    assert result.code == 2 and "HTTP 401" in result.err and f"${ENV}" in result.err
    assert "sk-reliability-faults" not in result.err and "Traceback" not in result.err
