"""Start-up of ``auditkit --help`` and ``auditkit suites list`` in a fresh process, and no torch import.

Each command runs in a subprocess (median of 5 wall times, after one warm-up so the OS file cache is
warm as it is for a user's second command). A separate child imports the CLI and the suite listing and
reports which heavy modules ended up in ``sys.modules``: the target is absolute (≤ 1 s), and torch,
transformers, pandas, sklearn must not be imported by these commands.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from benchmarks import REPO, Measure, run_child

__all__ = ["HEAVY_MODULES", "run"]

HEAVY_MODULES = ("torch", "transformers", "detoxify", "sklearn", "pandas", "scipy", "statsmodels")
_REPEAT = 5
_PROBE = """
import sys
from auditkit.cli.app import main
code = main(sys.argv[1:])
import json
print("HEAVY=" + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("auditkit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "auditkit.cli.app"]


def _heavy_imported(args: list[str]) -> list[str]:
    probe = run_child([sys.executable, "-c", _PROBE.format(heavy=HEAVY_MODULES), *args], cwd=REPO)
    for line in probe.stderr.splitlines():
        if line.startswith("HEAVY="):
            return list(json.loads(line[len("HEAVY="):]))
    raise RuntimeError(f"start-up probe failed: {probe.stderr[-500:]}")


def run(*, quick: bool, workdir: Path) -> list[Measure]:
    measures = []
    repeat = 3 if quick else _REPEAT
    for label, args in (("auditkit --help", ["--help"]), ("auditkit suites list", ["suites", "list"])):
        run_child([*_cli(), *args], cwd=REPO)  # warm the file cache
        times = []
        for _ in range(repeat):
            child = run_child([*_cli(), *args], cwd=REPO)
            if child.returncode != 0:
                raise RuntimeError(f"{label} exited {child.returncode}: {child.stderr[-500:]}")
            times.append(child.wall_s)
        heavy = _heavy_imported(args)
        measures.append(
            Measure(
                benchmark="startup",
                measure=f"{label} start-up (median of {repeat})",
                value=statistics.median(times),
                unit="s",
                target=1.0,
                target_on="value",
                notes="heavy modules imported: " + (", ".join(heavy) if heavy else "none"),
                details={"times_s": times, "heavy_modules_imported": heavy},
            )
        )
        if heavy and "torch" in heavy:
            measures.append(Measure(benchmark="startup", measure=f"{label} imports torch", value=1.0,
                                    unit="bool", target=0.0, target_on="value"))
    return measures
