"""``python -m benchmarks [--quick] [--only NAME ...]``: run the benchmarks, print the table, save figures.

``--device cpu|cuda|auto`` and ``--model-size`` choose where and on which model the ``hf`` benchmark
runs (``python -m benchmarks --only hf --device cuda --model-size 1b`` on any CUDA machine, no download);
benchmark modules whose ``run`` takes ``device`` / ``model_size`` keyword arguments receive them.

Writes ``benchmarks/results/latest.json`` (ignored by git) and ``benchmarks/RESULTS.md`` (committed: the
last measured table, the machine and the date). Optional benchmarks run only when their extra is
installed (``ray_scaling`` needs ray).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import REPO, Measure, machine
from benchmarks.bench_hf import MODEL_SIZE_CHOICES

BENCHMARKS = ("startup", "openai", "toxicity", "hf", "loglik", "replay100k", "cache", "garak")
"""In run order: cheapest first. Module ``benchmarks.bench_<name>``. ``garak`` returns no rows (and says why)
when no garak interpreter is found (``AUDITKIT_GARAK_PYTHON``, default ``/tmp/garak-venv/bin/python``)."""
OPTIONAL = {"ray_scaling": ("benchmarks.ray_scaling", "ray")}
RESULTS_DIR = REPO / "benchmarks" / "results"
RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def _row(m: Measure) -> list[str]:
    target = "–" if m.target is None else (f"≤ {m.target:g}" + ("" if m.target_on == "ratio" else f" {m.unit}"))
    verdict = {True: "pass", False: "FAIL", None: "info"}[m.passed]
    return [m.measure, _fmt(m.value, m.unit), _fmt(m.baseline, m.unit if m.baseline is not None else ""),
            _fmt(m.ratio), target, verdict]


_HEAD = ["measure", "value", "baseline", "ratio", "target", "result"]


def _markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(_HEAD)]
    print("  ".join(h.ljust(w) for h, w in zip(_HEAD, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def _modules(only: list[str] | None) -> list[tuple[str, str]]:
    chosen = []
    for name in BENCHMARKS:
        if only is None or name in only:
            chosen.append((name, f"benchmarks.bench_{name}"))
    for name, (module, needs) in OPTIONAL.items():
        if only is not None and name not in only:
            continue
        if importlib.util.find_spec(module) is None or (needs and importlib.util.find_spec(needs) is None):
            if only is not None:
                print(f"skipping {name}: {module} or {needs} not available", file=sys.stderr)
            continue
        chosen.append((name, module))
    unknown = set(only or ()) - set(BENCHMARKS) - set(OPTIONAL)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(BENCHMARKS + tuple(OPTIONAL))}")
    return chosen


def _model_flags(args: argparse.Namespace, device: str) -> str:
    """The flags that chose the hf benchmark's device and model, as the RESULTS.md command shows them."""
    return f" --device {device}" + (f" --model-size {args.model_size}" if args.model_size else "")


def _resolve_device(requested: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one: exit 2 with a reason."""
    if requested == "cpu":
        return "cpu"
    try:
        import torch

        available = bool(torch.cuda.is_available())
    except ImportError:
        available = False
    if requested == "auto":
        return "cuda" if available else "cpu"
    if not available:
        print("error: --device cuda: this machine has no CUDA device torch can use "
              "(torch.cuda.is_available() is False). Run with --device cpu (or auto) here, "
              "or on a machine with an NVIDIA GPU and a CUDA build of torch.", file=sys.stderr)
        raise SystemExit(2)
    return "cuda"


def _run_module(loaded: object, *, quick: bool, workdir: Path, device: str, model_size: str | None) -> list[Measure]:
    """Call ``loaded.run``, passing ``device`` / ``model_size`` only to modules that take them."""
    run = loaded.run  # type: ignore[attr-defined]
    params = inspect.signature(run).parameters
    extra: dict[str, object] = {}
    if "device" in params:
        extra["device"] = device
    if "model_size" in params:
        extra["model_size"] = model_size
    found: list[Measure] = run(quick=quick, workdir=workdir, **extra)
    return found


def _results_markdown(*, args: argparse.Namespace, device: str, doc: dict[str, Any], rows: list[list[str]]) -> str:
    info, failures = doc["machine"], doc["failures"]
    mode = "quick" if args.quick else "full"
    command = (f"python -m benchmarks{' --quick' if args.quick else ''}"
               f"{''.join(' --only ' + o for o in args.only or [])}{_model_flags(args, device)}")
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    return (
        "# Last measured benchmark figures\n\n"
        f"Written by `{command}` on {doc['date']} ({mode} workloads). "
        "See docs/benchmarks.md for what each row measures.\n\n"
        + _markdown(rows) + "\n\n"
        + (("Failed to run: " + "; ".join(f"{k}: {v}" for k, v in failures.items()) + "\n\n") if failures else "")
        + f"Machine: {info['cpu']}{gpu}, {info['cores']} cores, {info['memory_gb']} GB RAM, {info['platform']}, "
        f"Python {info['python']}; load average at the end {info['load_average']} (the machine is shared).\n\n"
        + "Packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads (smoke check, not the figures)")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    parser.add_argument("--no-write", action="store_true", help="do not write latest.json / RESULTS.md")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                        help="where the hf benchmark runs (default auto: cuda when available)")
    parser.add_argument("--model-size", choices=MODEL_SIZE_CHOICES, default=None,
                        help="hf benchmark model: the bundled SmolLM2-135M, or random weights of that size "
                        "(default: bundled on CPU, 1b on CUDA)")
    args = parser.parse_args(argv)
    device = _resolve_device(args.device)

    started = time.time()
    measures: list[Measure] = []
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="auditkit-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        for name, module in _modules(args.only):
            print(f"== {name}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                loaded = importlib.import_module(module)
                if not callable(getattr(loaded, "run", None)):
                    print(f"   {name}: skipped ({module} has no run(*, quick, workdir); run it directly)",
                          file=sys.stderr)
                    continue
                found = _run_module(loaded, quick=args.quick, workdir=workdir / name, device=device,
                                    model_size=args.model_size)
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                traceback.print_exc()
                failures[name] = f"{type(exc).__name__}: {exc}"
                continue
            measures.extend(found)
            print(f"   {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    rows = [_row(m) for m in measures]
    _print_table(rows)
    for name, error in failures.items():
        print(f"{name}: FAILED to run: {error}")
    info = machine()
    if device == "cuda":
        import torch

        info["gpu"] = torch.cuda.get_device_name(0)
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "only": args.only,
        "device": device,
        "model_size": args.model_size,
        "duration_s": round(time.time() - started, 1),
        "machine": info,
        "measures": [m.to_dict() for m in measures],
        "failures": failures,
    }
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / "latest.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        RESULTS_MD.write_text(_results_markdown(args=args, device=device, doc=doc, rows=rows), encoding="utf-8")
    bad = [m for m in measures if m.passed is False]
    return 1 if bad or failures else 0


if __name__ == "__main__":
    sys.exit(main())
