"""The API key never lands anywhere: a full ``auditkit run`` against the loopback server, with a policy and
the report, and a server that echoes the Authorization header back in its error bodies. Every file in
the run directory, the cache (with its WAL), stdout, stderr and the log records are searched for the key,
its base64 form and its Bearer header.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_http import LoopbackServer, loopback_server  # noqa: F401
from tests.fixtures_reliability import write_word_suite

POLICY = """name: secrets-test
rules:
  - id: few-toxic
    metric: toxicity.toxic_fraction
    on: value
    comparison: '<='
    threshold: 1.0
    severity: fail
"""


def _needles(key: str) -> list[bytes]:
    raw = key.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.b64encode(b"Bearer " + raw),
        base64.urlsafe_b64encode(raw),
        raw.hex().encode(),
        key[4:].encode(),  # the random part alone, in case the prefix were cut off
    ]


def _files(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        found += [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else [root]
    return found


@pytest.mark.parametrize("how", [pytest.param("subprocess", marks=pytest.mark.slow), "in-process"])
def test_api_key_is_in_no_artifact(
    tmp_path: Path,
    loopback_server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    how: str,
) -> None:
    key = f"sk-{secrets.token_urlsafe(24)}"
    env_name = "AUDITKIT_SECRET_TEST_KEY"
    suite = write_word_suite(tmp_path, n=6)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    # errors whose bodies quote the key back: a rejected prompt (400) and a retried one (500)
    loopback_server.fail("status", status=400, times=1, match="alpha", body="bad request from {authorization}")
    loopback_server.fail("status", status=500, times=1, match="bravo", body="oops, {authorization} again")
    out, cache = tmp_path / "out", tmp_path / "cache" / "cache.sqlite"
    args = [
        "run", str(suite), "--model", "openai:secret-model", "--base-url", loopback_server.base_url,
        "--api-key-env", env_name, "--out", str(out), "--cache", str(cache), "--policy", str(policy),
        "--max-error-rate", "0.5", "--model-arg", "backoff=0",
    ]  # fmt: skip
    if how == "subprocess":
        done = subprocess.run(
            [sys.executable, "-c", "from auditkit.cli.app import main; main()", *args],
            env={**os.environ, env_name: key},
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr.decode()
        streams = done.stdout + done.stderr
    else:
        from auditkit.cli.app import main

        monkeypatch.setenv(env_name, key)
        caplog.set_level(logging.DEBUG)
        assert main(args) == 0
        captured = capfd.readouterr()
        streams = (captured.out + captured.err + caplog.text).encode()

    # the test means something only if the key really travelled and really came back in error bodies
    assert all(r.headers["Authorization"] == f"Bearer {key}" for r in loopback_server.requests)
    assert len(loopback_server.requests) == 6 + 1
    artifacts = _files(out, cache.parent)
    names = {p.name for p in artifacts}
    assert {"results.json", "outputs.jsonl", "report.html", "junit.xml", "summary.md", "cache.sqlite"} <= names
    alpha = next(line for line in (out / "outputs.jsonl").read_text().splitlines() if '"alpha"' in line)
    assert "bad request from Bearer ***" in alpha  # the error reason is kept, with the key scrubbed

    for needle in _needles(key):
        assert needle not in streams, f"key form {needle[:12]!r}... in stdout/stderr/logs"
        for path in artifacts:
            assert needle not in path.read_bytes(), f"key form {needle[:12]!r}... in {path}"
