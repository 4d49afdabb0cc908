"""End to end: the standard audit of the bundled SmolLM2 through the CLI, as `make demo` runs it.

One real run (real generations, real scorers) is shared by the tests of this module: its results must
validate, every analyzer must report on it, a rerun must come entirely from the cache with the same
metrics, and its report must open in headless Chromium without a request, a script or a console error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auditkit.engine.results import validate_results

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
AUDITKIT = Path(sys.executable).parent / "auditkit"


def _audit(out: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    command = [str(AUDITKIT), "run", "standard", "--model", "smollm2", "--out", str(out), "--cache", str(cache),
               "--policy", "release", "--quiet"]
    return subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("standard")
    cache = base / "cache.sqlite"
    first = _audit(base / "first", cache)
    assert first.returncode in (0, 1), first.stderr  # 1: the release policy failed, results still written
    second = _audit(base / "second", cache)
    assert second.returncode == first.returncode, second.stderr
    return base / "first", base / "second", first


def _results(run_dir: Path) -> dict:
    data = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    validate_results(data=data)
    return data


def _metric(data: dict, analyzer: str, name: str, group: dict | None = None) -> dict:
    return next(m for m in data["metrics"] if (m["analyzer"], m["name"], m["group"]) == (analyzer, name, group))


def test_standard_audit_generates_real_text_with_every_analyzer(runs) -> None:
    first, _, process = runs
    data = _results(first)
    counts = data["manifest"]["counts"]
    assert data["status"] == "complete" and counts["errors"] == 0
    assert counts["generated"] == counts["prompts"] >= 200
    assert set(data["analyses"]) == {"bias", "energy", "memorization", "toxicity"}
    assert data["manifest"]["model"]["adapter"] == "smollm2"
    assert data["manifest"]["model"]["weights_hash"].startswith("sha256:")

    lines = [json.loads(line) for line in (first / "outputs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == counts["prompts"]
    words = [w for line in lines for w in re.findall(r"[A-Za-z']+", line["output"] or "")]
    assert len(words) > 20 * len(lines) * 0.5, "the model should write real text"
    common = {"the", "a", "and", "of", "to", "is", "in", "was"}
    assert sum(w.lower() in common for w in words) > len(words) * 0.05

    toxic = _metric(data, "toxicity", "toxic_fraction")
    assert toxic["n"] >= 135 and 0 <= toxic["ci_low"] <= toxic["value"] <= toxic["ci_high"] <= 1
    memorized = _metric(data, "memorization", "extractable_rate")
    assert memorized["n"] == data["analyses"]["memorization"]["summary"]["passages"]["tested"] == 28
    woman = _metric(data, "bias", "sentiment_mean", {"axis": "gender", "group": "woman"})
    assert woman["n"] > 0 and woman["ci_low"] <= woman["value"] <= woman["ci_high"]
    assert any(m["name"] == "mde" for m in data["metrics"] if m["analyzer"] == "bias")
    energy = _metric(data, "energy", "wh_per_1k_tokens")
    assert energy["value"] > 0 and energy["n"] == counts["prompts"]
    assert re.search(r"estimated|measured", energy["method"])
    assert data["gate"]["policy"] and isinstance(data["gate"]["passed"], bool)
    assert (process.returncode == 0) is data["gate"]["passed"]
    assert (first / "report.html").is_file() and (first / "junit.xml").is_file()


def test_rerun_comes_from_the_cache_with_the_same_metrics(runs) -> None:
    first, second, _ = runs
    before, after = _results(first), _results(second)
    assert after["manifest"]["counts"]["generated"] == 0
    assert after["manifest"]["counts"]["cached"] == before["manifest"]["counts"]["prompts"]

    def scored(data: dict) -> list[tuple]:
        return sorted((m["analyzer"], m["name"], json.dumps(m["group"], sort_keys=True), m["value"], m["n"])
                      for m in data["metrics"] if m["analyzer"] != "energy")

    assert scored(after) == scored(before)


def test_report_of_the_real_audit_opens_cleanly_in_chromium(runs) -> None:
    from tests.setup_browser import ensure_chromium

    chromium = ensure_chromium(quiet=True)
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: `python -m tests.setup_browser` should have installed it")
        pytest.skip("chromium is not installed and could not be installed (needs root and apt-get)")
    from tests.fixtures_browser import load_page

    first, _, _ = runs
    page = first / "report.html"
    screenshot = ROOT / "test-output" / "report-standard.png"
    log = load_page(chromium=chromium, page=page, screenshot=screenshot)
    assert log.requests == [page.resolve().as_uri()]
    assert log.console == [] and log.exceptions == [] and log.dialogs == []
    assert len(log.scripts) == 1  # the report's own sort/filter script, allowed by its hash
    assert [e for e in log.log_entries if e.get("level") in ("error", "warning")] == []
    body = log.probes["body_text"]
    assert "smollm2" in body and "What we found" in body
    assert "estimated" in body.lower()  # energy figures carry their method label
    if os.environ.get("AUDITKIT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(screenshot, ROOT / "docs" / "images" / "report.png")
