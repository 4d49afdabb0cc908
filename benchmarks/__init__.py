"""Reproducible speed measurements of auditkit, each a ratio against a raw baseline on the same machine.

Run ``python -m benchmarks [--quick] [--only NAME]`` (or ``make bench``). Every benchmark module
``benchmarks/bench_<name>.py`` exposes ``run(*, quick: bool, workdir: Path) -> list[Measure]``; the
entry point (``benchmarks/__main__.py``) prints one table, writes ``benchmarks/results/latest.json`` and
``benchmarks/RESULTS.md``. See ``docs/benchmarks.md`` for what each ratio means.

The helpers here are shared by the benchmark modules: the ``Measure`` record, a monotonic timer, a
subprocess runner that reports the child's peak RSS, and a machine description.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ChildRun",
    "Measure",
    "REPO",
    "machine",
    "median_time",
    "run_child",
]

REPO = Path(__file__).resolve().parent.parent
"""The repository root (benchmarks run against the working tree)."""


@dataclass(frozen=True, slots=True)
class Measure:
    """One row of the table: a measured value, its baseline and the target it is held to.

    ``ratio`` is ``value / baseline`` when there is a baseline; ``target`` applies to the ratio when
    ``target_on == "ratio"`` and to the value itself otherwise (absolute limits: seconds, MB).
    """

    benchmark: str
    measure: str
    value: float
    unit: str
    target: float | None
    target_on: str = "ratio"
    baseline: float | None = None
    notes: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        checked = self.ratio if self.target_on == "ratio" else self.value
        return None if checked is None else checked <= self.target

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["passed"] = self.passed
        return data


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A finished subprocess: wall seconds, peak resident memory (MB), exit code and output."""

    wall_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_s: float | None = None
    """User + system CPU seconds of the child (on a shared machine, wall time includes waiting)."""


_GNU_TIME = Path("/usr/bin/time")


def run_child(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
              timeout: float | None = None) -> ChildRun:
    """Run ``argv`` to completion and report its own peak resident memory.

    Linux keeps a process's RSS high-water mark across ``fork`` + ``execve``, so a child forked from
    this (large) Python process would report at least this process's RSS. The child is therefore
    started by GNU ``time`` (a tiny process) when available, which reports the real child's peak;
    otherwise ``wait4``'s ``ru_maxrss`` is used (an upper bound).
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rss"
        wrapped = list(argv)
        if _GNU_TIME.is_file() and sys.platform.startswith("linux"):
            wrapped = [str(_GNU_TIME), "-q", "-o", str(report), "-f", "%M %U %S", *wrapped]
        with open(Path(tmp) / "out", "w+") as out, open(Path(tmp) / "err", "w+") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(wrapped, env=env, cwd=cwd, stdout=out, stderr=err, text=True)
            timer = threading.Timer(timeout, proc.kill) if timeout else None
            if timer is not None:
                timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                if timer is not None:
                    timer.cancel()
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        peak_kb = float(usage.ru_maxrss) / (1024.0 if sys.platform == "darwin" else 1.0)
        cpu: float | None = None
        try:
            kb, user, system = report.read_text().strip().splitlines()[-1].split()
            peak_kb, cpu = float(kb), float(user) + float(system)
        except (OSError, ValueError, IndexError):
            pass
    return ChildRun(wall_s=wall, peak_rss_mb=peak_kb / 1024.0, returncode=proc.returncode, stdout=stdout,
                    stderr=stderr, cpu_s=cpu)


def median_time(fn: Callable[[], Any], *, repeat: int) -> tuple[float, list[float]]:
    """Median wall seconds of ``repeat`` calls of ``fn`` (and every timing)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    ordered = sorted(times)
    return ordered[len(ordered) // 2], times


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU model, cores, memory, OS, Python, key package versions."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    packages = {}
    for name in ("auditkit", "torch", "transformers", "detoxify", "alt-profanity-check", "scikit-learn", "scipy"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(memory_gb, 1) if memory_gb else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average": [round(x, 2) for x in load] if load else None,
        "packages": packages,
    }
