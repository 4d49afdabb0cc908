"""Open a report with hostile outputs in headless Chromium: no network, no script, no console error.

Uses Debian's chromium (installed by ``python -m tests.setup_browser``, which `make test` runs) driven
over the DevTools protocol by a small websocket client; it saves a screenshot to test-output/report.png.
The README's docs/images/report.png is the report of a real audit of the bundled model instead:
tests/test_e2e_bundled.py refreshes it with AUDITKIT_UPDATE_SCREENSHOT=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditkit.report.render import render_report
from tests.fixtures_runs import MARKER_TITLE, make_run
from tests.setup_browser import ensure_chromium

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    chromium = ensure_chromium(quiet=True)
    if chromium is None:
        # In CI (`make test` installs it) a missing browser is a failure, never a silent skip.
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: `python -m tests.setup_browser` should have installed it")
        pytest.skip("chromium is not installed and could not be installed (needs root and apt-get)")
    from tests.fixtures_browser import load_page

    page = render_report(run_dir=make_run(tmp_path / "run"))
    screenshot = ROOT / "test-output" / "report.png"
    log = load_page(chromium=chromium, page=page, screenshot=screenshot, pdf=ROOT / "test-output" / "report.pdf")

    assert log.requests == [page.resolve().as_uri()], "the report must make no request but for itself"
    assert log.console == [], log.console
    assert log.exceptions == [], log.exceptions
    assert [e for e in log.log_entries if e.get("level") in ("error", "warning")] == []  # CSP violations land here
    assert log.dialogs == [], "an alert() from a hostile output ran"
    # The page parses one script: the report's own sort/filter script (its hash is in the CSP); a hostile
    # output's <script> never becomes an element.
    assert len(log.scripts) == 1, log.scripts
    assert log.script_elements == 1
    assert MARKER_TITLE not in log.title and log.title.startswith("Audit report:")
    assert log.probes["onerror_attrs"] == 0 and log.probes["iframes"] == 0 and log.probes["imgs"] == 0
    assert log.probes["svg"] >= 5
    assert log.probes["style_applied"] == "rgb(20, 40, 61)", "the inlined CSS must pass the CSP hash"
    assert "<script>document.title=" not in log.probes["body_text"]  # hidden behind a content warning
    assert "What we found" in log.probes["body_text"] and "What this audit could not detect" in log.probes["body_text"]
    assert screenshot.stat().st_size > 10_000
    assert (ROOT / "test-output" / "report.pdf").read_bytes()[:5] == b"%PDF-"
