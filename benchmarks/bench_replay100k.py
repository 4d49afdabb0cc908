"""100k replayed outputs → scoring + analysis + results + HTML report, in one fresh process.

A generated suite expands to ``n`` prompts (rows × the three gender groups, counterfactual pairs), its
outputs come from a replay file (everyday sentences, some profane, some negative), and
``auditkit run`` scores them with the offline scorers (toxicity: profanity-check; bias: VADER sentiment,
refusal, length; energy: the replay file's joules). The child runs pinned to at most 2 cores; its wall
time, peak RSS (``wait4``) and the report's size are held to absolute targets.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
from pathlib import Path

from benchmarks import REPO, Measure, run_child

__all__ = ["build_fixture", "run"]

_OPENINGS = [
    "works as a nurse at the city hospital", "was walking home after a long shift",
    "wrote a letter to the local newspaper", "spent the weekend fixing an old bicycle",
    "was known in the village for", "started a small bakery on the corner",
]
_OUTPUTS = [
    "and everyone agreed it was a kind and generous thing to do.",
    "The neighbours said they were always helpful and friendly.",
    "It was a quiet evening and nothing much happened.",
    "They were angry and the whole day felt terrible and sad.",
    "I'm sorry, but I can't help with that request.",
    "What a damn stupid idea, shut the hell up.",
    "The report was filed on time and the team moved on to the next project.",
    "She smiled, thanked the staff and went back to work the following morning.",
]
_GROUPS = 3  # gender: woman, man, non-binary person


def build_fixture(*, root: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """Write ``suite.yaml`` (+ rows JSONL) expanding to about ``n`` prompts, and a matching replay file."""
    from auditkit.suites import expand, load_suite

    root.mkdir(parents=True, exist_ok=True)
    rows = -(-n // _GROUPS)
    rng = random.Random(seed)
    with (root / "rows.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(rows):
            handle.write(json.dumps({"context": f"{rng.choice(_OPENINGS)} (case {i})"}) + "\n")
    suite = root / "suite.yaml"
    suite.write_text(
        "id: bench-replay\nversion: 1\ndescription: Benchmark workload (generated).\n"
        "analyzers: [toxicity, bias, energy]\n"
        "analyzer_options:\n  toxicity: {backend: profanity-check}\n"
        "generation: {max_new_tokens: 32, temperature: 0}\n"
        "groups:\n  gender: [woman, man, non-binary person]\n"
        "probes:\n  - id: story\n    prompt: \"The {{ group }} {{ context }}\"\n"
        "    counterfactual: [gender]\n    rows_from: rows.jsonl\n",
        encoding="utf-8",
    )
    prompts = expand(suite=load_suite(ref=str(suite)))
    replay = root / "replay.jsonl"
    with replay.open("w", encoding="utf-8") as handle:
        for prompt in prompts:
            text = " ".join(rng.choice(_OUTPUTS) for _ in range(rng.randint(1, 3)))
            tokens = len(text.split())
            handle.write(json.dumps({"id": prompt.id, "output": text, "input_tokens": 12,
                                     "output_tokens": tokens, "latency_s": 0.01 * tokens,
                                     "energy_j": 0.05 * tokens}) + "\n")
    return suite, replay


def _pinned(argv: list[str]) -> list[str]:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) > 2 and shutil.which("taskset"):
        return ["taskset", "-c", ",".join(map(str, cores[:2])), *argv]
    return argv


def run(*, quick: bool, workdir: Path) -> list[Measure]:
    n = 10_000 if quick else 100_000
    root = workdir / f"replay{n}"
    suite, replay = build_fixture(root=root / "fixture", n=n)
    out = root / "run"
    shutil.rmtree(out, ignore_errors=True)
    cli = Path(sys.executable).with_name("auditkit")
    argv = [str(cli), "run", str(suite), "--model", f"replay:{replay}", "--out", str(out), "--no-cache"]
    env = {**os.environ, "AUDITKIT_CACHE_DIR": str(root / "cache")}
    child = run_child(_pinned(argv), env=env, cwd=REPO)
    if child.returncode not in (0, 1):
        raise RuntimeError(f"auditkit run exited {child.returncode}: {child.stderr[-2000:]}")
    report = out / "report.html"
    outputs = out / "outputs.jsonl"
    lines = sum(1 for _ in outputs.open(encoding="utf-8"))
    details = {"outputs": lines, "outputs_jsonl_mb": outputs.stat().st_size / 1e6, "cpu_s": child.cpu_s,
               "analyzers": ["toxicity (profanity-check)", "bias (VADER)", "energy"]}
    label = f"{lines:,} replayed outputs"
    # The targets are set for 100k; --quick (10k) is held to them unscaled (a smoke check, not the figure).
    return [
        Measure(benchmark="replay100k", measure=f"{label} → analysis + report: wall", value=child.wall_s,
                unit="s", target=60.0, target_on="value", details=details,
                notes=f"CPU {child.cpu_s:.0f} s (user + system)" if child.cpu_s is not None else ""),
        Measure(benchmark="replay100k", measure=f"{label}: peak RSS", value=child.peak_rss_mb, unit="MB",
                target=1024.0, target_on="value"),
        Measure(benchmark="replay100k", measure=f"{label}: report.html size", value=report.stat().st_size / 1e6,
                unit="MB", target=10.0, target_on="value"),
    ]
