"""A 100k-output run: the report streams outputs.jsonl, samples the evidence and stays small."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from auditkit.report.context import EVIDENCE_PER_FINDING, EVIDENCE_TOTAL
from auditkit.report.render import render_report
from tests.fixtures_runs import make_large_run


@pytest.mark.slow
def test_100k_outputs_render_small_and_fast(tmp_path: Path) -> None:
    run = make_large_run(tmp_path / "big", n=100_000)
    assert (run / "outputs.jsonl").stat().st_size > 50_000_000
    started = time.perf_counter()
    path = render_report(run_dir=run)
    elapsed = time.perf_counter() - started
    size = path.stat().st_size
    print(f"100k outputs: report {size / 1e6:.2f} MB rendered in {elapsed:.1f} s")
    assert size < 10_000_000
    assert elapsed < 60  # ~6 s on 2 shared cores; generous for loaded CI machines
    html = path.read_text(encoding="utf-8")
    # 33 findings cite ~14k + ~33k outputs each; each keeps a fair share of the report's EVIDENCE_TOTAL
    # outputs (never more than EVIDENCE_PER_FINDING), so the last findings show evidence too.
    shown = [int(n) for n in re.findall(r"\((\d+) of \d+ cited outputs shown; all are in outputs.jsonl\)", html)]
    assert len(shown) == 33 and max(shown) <= EVIDENCE_PER_FINDING, shown
    assert sum(1 for n in shown if n > 0) == 32, shown  # all but the one whose cited id is not in the file
    assert sum(shown) <= EVIDENCE_TOTAL
    assert "Distribution of toxicity.toxicity over 100,000 outputs" in html
    assert html.count('class="io"') <= 200 + 40 + 10  # evidence budget + sample + top-k
    assert "look up the other cited ids in outputs.jsonl" in html
