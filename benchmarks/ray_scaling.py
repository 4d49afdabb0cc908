"""Ray executor scaling: scoring a large replay file with 1 and 2 Ray workers, the local executor as baseline.

Workload: the built-in ``bias`` suite expanded with ``--samples`` (default 40 → ~27k outputs), its outputs
read from a generated replay file (everyday sentences, some profane, some negative, some refusals), scored
by the offline toxicity scorer (profanity-check) and the bias measures (VADER sentiment, refusal, length).
Replay "generation" reads the file in the driver under every executor, so what differs is scoring.

Reported per configuration: the scoring wall time (both analyzers, including starting the Ray actors and
shipping outputs to them), the whole ``run_audit`` wall time (plan, replay, scoring, aggregation, files —
the driver-side parts do not scale), and speed-ups over the 1-worker Ray run and over the local executor.
Ray's own start (a few seconds) is excluded: it is paid once per cluster, not per run.

    python -m benchmarks.ray_scaling [--samples 40] [--repeats 2]

Writes ``benchmarks/results/ray_scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "write_replay"]

RESULTS = Path(__file__).resolve().parent / "results" / "ray_scaling.json"

_OUTPUTS = [
    "and everyone agreed it was a kind and generous thing to do.",
    "was always helpful and friendly to the neighbours.",
    "went home after a quiet evening where nothing much happened.",
    "was angry, and the whole day felt terrible and sad.",
    "I'm sorry, but I can't help with that request.",
    "had a damn stupid idea and told everyone to shut the hell up.",
    "filed the report on time and moved on to the next project.",
    "smiled, thanked the staff and went back to work the next morning.",
]


def write_replay(*, path: Path, samples: int, seed: int = 0) -> int:
    """A replay file answering every prompt of the ``bias`` suite at ``samples``; returns the count."""
    from auditkit.suites import expand, load_suite

    rng = random.Random(seed)
    prompts = expand(suite=load_suite(ref="bias"), samples=samples)
    with path.open("w", encoding="utf-8") as handle:
        for prompt in prompts:
            text = f"{rng.choice(_OUTPUTS)} {rng.choice(_OUTPUTS)}"
            handle.write(json.dumps({"id": prompt.id, "output": text, "output_tokens": len(text.split())}) + "\n")
    return len(prompts)


class _Timed:
    """Wraps an executor and adds up the wall time spent in ``score`` (all analyzers)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.score_s = 0.0

    def generate(self, **kwargs: Any) -> None:
        self.inner.generate(**kwargs)

    def score(self, **kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            self.inner.score(**kwargs)
        finally:
            self.score_s += time.perf_counter() - start


def _run_once(*, replay: Path, samples: int, out: Path, executor: Any) -> dict[str, float]:
    from auditkit.api import run_audit
    from auditkit.engine.plan import AuditRequest

    timed = _Timed(executor)
    request = AuditRequest(
        model=f"replay:{replay}",
        out=out,
        suites=("bias",),
        analyzers=("bias", "toxicity"),
        analyzer_options={"toxicity": {"backend": "profanity-check"}},
        samples=samples,
        use_cache=False,
        report=False,
        quiet=True,
    )
    start = time.perf_counter()
    result = run_audit(request=request, executor=timed)
    total = time.perf_counter() - start
    if result.status != "complete":
        raise SystemExit(f"benchmark run incomplete: {result.reason}")
    return {"score_s": timed.score_s, "total_s": total}


def _metrics(out: Path) -> list[Any]:
    return json.loads((out / "results.json").read_text())["metrics"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40, help="samples per bias prompt (40 → ~27k outputs)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per configuration (the best is kept)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import ray

    from auditkit.energy.meter import open_meter
    from auditkit.engine.executor import LocalExecutor
    from auditkit.engine.ray_executor import RayExecutor

    with tempfile.TemporaryDirectory(prefix="auditkit-ray-bench-") as tmp:
        root = Path(tmp)
        replay = root / "replay.jsonl"
        n = write_replay(path=replay, samples=args.samples)
        print(f"workload: {n} replayed outputs of the bias suite; scorers: toxicity (profanity-check), bias")

        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=200_000_000,
            _node_ip_address="127.0.0.1",
            logging_level="WARNING",
        )
        runs: dict[str, list[dict[str, float]]] = {"local": [], "ray-1": [], "ray-2": []}
        metrics: dict[str, Any] = {}
        try:
            for repeat in range(args.repeats):
                for name in runs:
                    if name == "local":
                        executor: Any = LocalExecutor(meter=open_meter(device="cpu"))
                    else:
                        executor = RayExecutor(num_replicas=int(name[-1]))
                    out = root / f"{name}-{repeat}"
                    runs[name].append(_run_once(replay=replay, samples=args.samples, out=out, executor=executor))
                    metrics[name] = _metrics(out)
                    print(f"  {name:6} run {repeat + 1}: scoring {runs[name][-1]['score_s']:.2f} s, "
                          f"total {runs[name][-1]['total_s']:.2f} s")
        finally:
            ray.shutdown()

    identical = metrics["ray-1"] == metrics["local"] and metrics["ray-2"] == metrics["local"]
    best = {name: {k: min(r[k] for r in rs) for k in ("score_s", "total_s")} for name, rs in runs.items()}
    rows = []
    for name, times in best.items():
        rows.append(
            {
                "executor": name,
                "workers": {"local": 1, "ray-1": 1, "ray-2": 2}[name],
                "score_s": round(times["score_s"], 3),
                "total_s": round(times["total_s"], 3),
                "outputs_per_s_scoring": round(n / times["score_s"], 1),
                "score_speedup_vs_ray1": round(best["ray-1"]["score_s"] / times["score_s"], 3),
                "score_speedup_vs_local": round(best["local"]["score_s"] / times["score_s"], 3),
                "total_speedup_vs_local": round(best["local"]["total_s"] / times["total_s"], 3),
            }
        )
    print()
    print(f"{'executor':8} {'workers':>7} {'scoring s':>10} {'total s':>9} {'outputs/s':>10} "
          f"{'vs ray-1':>9} {'vs local':>9}")
    for row in rows:
        print(f"{row['executor']:8} {row['workers']:>7} {row['score_s']:>10.2f} {row['total_s']:>9.2f} "
              f"{row['outputs_per_s_scoring']:>10.0f} {row['score_speedup_vs_ray1']:>8.2f}x "
              f"{row['score_speedup_vs_local']:>8.2f}x")
    print(f"metrics identical across executors: {identical}")

    report = {
        "benchmark": "ray_scaling",
        "outputs": n,
        "samples": args.samples,
        "repeats": args.repeats,
        "analyzers": ["toxicity (profanity-check)", "bias (vader sentiment, refusal, length)"],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()},
        "ray_version": ray.__version__,
        "metrics_identical": identical,
        "results": rows,
        "runs": runs,
        "median_score_s": {name: round(statistics.median(r["score_s"] for r in rs), 3) for name, rs in runs.items()},
        "note": "best of the repeats; scoring time includes actor start and transfer; Ray start excluded",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
