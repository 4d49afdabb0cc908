"""The garak comparison benchmark skips cleanly without garak and reads garak's log and report correctly.

No garak and no model here: the comparison itself runs only where a garak interpreter exists
(``AUDITKIT_GARAK_PYTHON``); its figures live in docs/benchmarks.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_garak


def test_skips_with_a_reason_when_there_is_no_garak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AUDITKIT_GARAK_PYTHON", str(tmp_path / "no-such-python"))
    assert bench_garak.run(quick=True, workdir=tmp_path / "w") == []
    assert "garak: skipped: no garak interpreter" in capsys.readouterr().err


def test_skips_when_the_interpreter_has_no_garak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setenv("AUDITKIT_GARAK_PYTHON", sys.executable)  # auditkit's venv: no garak here
    found = bench_garak.find_garak()
    assert isinstance(found, str) and "cannot import garak" in found


def test_generation_seconds_come_from_the_probe_lines_of_garaks_log(tmp_path: Path) -> None:
    log = tmp_path / "garak.log"
    log.write_text(
        "2026-11-22 09:26:00,721  INFO  generator init: <x>\n"
        "2026-11-22 09:26:23,419  DEBUG  probe execute: <garak.probes.test.Test object>\n"
        "2026-11-22 09:31:22,249  DEBUG  probe return: <garak.probes.test.Test object> with 12 attempts\n"
        "2026-11-22 09:31:22,337  INFO  garak run complete in 333.66s\n",
        encoding="utf-8",
    )
    assert bench_garak._garak_generation_s(log) == pytest.approx(298.83)
    log.write_text("2026-11-22 09:26:23,419  DEBUG  probe execute: <x>\n", encoding="utf-8")
    assert bench_garak._garak_generation_s(log) is None


def test_outputs_are_read_from_completed_attempts(tmp_path: Path) -> None:
    def attempt(status: int, prompt: str, output: str | None) -> dict:
        return {"entry_type": "attempt", "status": status,
                "prompt": {"turns": [{"role": "user", "content": {"text": prompt}}]},
                "outputs": [None if output is None else {"text": output}]}

    report = tmp_path / "r.report.jsonl"
    lines = [{"entry_type": "init"}, attempt(1, "a", "draft"), attempt(2, "a", "final"),
             attempt(2, "b", None)]
    report.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    assert bench_garak._garak_outputs(report) == {"a": "final", "b": ""}
