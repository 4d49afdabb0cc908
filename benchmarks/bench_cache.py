"""Warm-cache rerun of an audit vs its cold run (same suite, model, cache file; fresh output dirs).

Both are full ``auditkit run`` processes with the bundled model (``smollm2``) and a fresh cache file: the
cold run generates everything, the warm rerun finds every generation in the SQLite cache and must not
load the model at all, so what is left is start-up, planning, scoring, aggregation and the report.
Full mode audits the ``standard`` suite (several minutes on 2 cores); ``--quick`` audits ``energy``
(12 prompts), where the fixed start-up/report cost is a much larger share of the cold run.
``AUDITKIT_BENCH_CACHE_SUITE=NAME`` picks another suite.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from benchmarks import REPO, Measure, run_child

__all__ = ["run"]


def _audit(*, suite: str, out: Path, cache: Path) -> float:
    cli = Path(sys.executable).with_name("auditkit")
    child = run_child([str(cli), "run", suite, "--model", "smollm2", "--out", str(out), "--cache", str(cache)],
                      env=dict(os.environ), cwd=REPO)
    if child.returncode not in (0, 1):
        raise RuntimeError(f"auditkit run {suite} exited {child.returncode}: {child.stderr[-2000:]}")
    return child.wall_s


def run(*, quick: bool, workdir: Path, suite: str | None = None) -> list[Measure]:
    suite = suite or os.environ.get("AUDITKIT_BENCH_CACHE_SUITE") or ("energy" if quick else "standard")
    root = workdir / f"cache-{suite}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    cache = root / "cache.sqlite"
    cold = _audit(suite=suite, out=root / "cold", cache=cache)
    warm = _audit(suite=suite, out=root / "warm", cache=cache)
    return [Measure(benchmark="cache", measure=f"warm-cache rerun / cold run ({suite} suite, smollm2)",
                    value=warm, baseline=cold, unit="s", target=0.05,
                    notes="separate processes; same cache file; fresh --out each")]
