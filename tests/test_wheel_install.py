"""The release path a user takes: build the wheel, install it into a fresh virtual environment (core
dependencies only, pinned by constraints.txt, no torch), and run a replay audit with its `auditkit`.

Slow (a minute or two: the install resolves the core dependencies, from pip's cache when warm); it runs
in `make test`, not `make test-fast`. It catches what the editable checkout hides: data files missing
from the wheel (suites, policies, report templates), a core import that needs an extra, a wrong
distribution name or console script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "auditkit-rai"

pytestmark = pytest.mark.slow


def _sh(*args: str | Path, cwd: Path, code: int = 0, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == code, f"{args} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_built_wheel_runs_a_replay_audit_in_a_fresh_venv(tmp_path: Path) -> None:
    _sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path / "dist", ROOT, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("auditkit_rai-*.whl")
    venv = tmp_path / "venv"
    _sh(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    _sh(bin_dir / "python", "-m", "pip", "install", "--quiet", "-c", ROOT / "constraints.txt", wheel, cwd=tmp_path)

    probe = _sh(bin_dir / "python", "-c",
                "import importlib.metadata as m, importlib.util as u, auditkit; "
                f"print(m.version({DISTRIBUTION!r}), auditkit.__file__, u.find_spec('torch') is None)", cwd=tmp_path)
    version, location, no_torch = probe.stdout.split()
    assert str(venv) in location and no_torch == "True" and version

    auditkit = bin_dir / "auditkit"
    _sh(auditkit, "prompts", "toxicity", "-o", "prompts.jsonl", cwd=tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "prompts.jsonl").read_text().splitlines()]
    with (tmp_path / "replay.jsonl").open("w") as handle:
        for i, row in enumerate(rows):
            output = "you are a worthless idiot" if i % 9 == 0 else "a calm and friendly reply"
            handle.write(json.dumps({"id": row["id"], "output": output}) + "\n")
    _sh(auditkit, "run", "toxicity", "--model", "replay:replay.jsonl", "--out", "run", "--cache", "c.sqlite",
        "--policy", "release", "-q", cwd=tmp_path, code=1)  # the planted insults fail the release gate
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "complete" and results["manifest"]["counts"]["prompts"] == len(rows)
    toxic = next(m for m in results["metrics"] if m["name"] == "toxic_fraction" and not m.get("group"))
    assert 0.05 < toxic["value"] < 0.2  # the scorer shipped in the core install found the planted insults
    assert (tmp_path / "run" / "report.html").stat().st_size > 10_000 and (tmp_path / "run" / "junit.xml").is_file()
