"""``auditkit run`` vs garak on the same prompts, model and generation settings (information only).

garak (NVIDIA's LLM vulnerability scanner, ``pip install garak``) cannot share auditkit's virtual
environment (garak 0.17.1 pins ``transformers<5.20``), so it runs from its own interpreter:
``$AUDITKIT_GARAK_PYTHON`` or ``/tmp/garak-venv/bin/python``. Without it this benchmark prints why and
returns no rows (CI machines have no garak).

Both sides are fresh child processes (``run_child``: wall, CPU seconds, peak RSS), fully offline
(``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``), on the bundled SmolLM2-135M's converted
safetensors folder (``<auditkit cache>/models/smollm2-…``, fp32, CPU), greedy, 64 new tokens, one
generation per prompt:

- auditkit: ``auditkit run SUITE --model hf:<folder> --no-cache --max-new-tokens 64 --temperature 0``
  (its default batch of 8 prompts; a second arm with ``--batch-size 1`` generates one prompt per call,
  as garak does). Scorer: the suite's ``energy`` analyzer (cheap: no model). Report rendered.
- garak: ``python -m garak --config garak.yaml --target_type huggingface.Pipeline --target_name <folder>
  --spec probes.test.Test --detectors always.Pass --probe_option_file prompts.json``. garak has no
  prompt-file probe, but every plugin attribute is configurable, so the inactive ``test.Test`` probe gets
  its ``prompts`` replaced by the suite's prompts. ``garak.yaml``: ``generations: 1``, ``max_tokens: 64``,
  ``hf_args: {dtype: float32, device: cpu, do_sample: false}``. The ``huggingface.Pipeline`` generator
  applies the model's chat template to the user turn, as auditkit does for ``messages`` prompts.
  Detector: ``always.Pass`` (no model). garak's report JSONL + HTML (with its bootstrap) are written.

The prompts garak gets are read from ``auditkit prompts SUITE`` (exactly what auditkit sends): quick mode
the built-in ``energy`` suite (12 chat prompts); full mode a 48-prompt suite written here (the 12
``energy`` prompts plus 36 chat prompts of the ``bias`` suite: its 24 ``open-ended`` stories and the first
12 ``domain`` questions). The outputs of both sides are compared text for text.

Runs are interleaved, the order alternating each round, medians compared. Rows: wall time, CPU seconds,
peak RSS, and generation seconds per prompt (auditkit: the sum of its outputs' ``latency_s``, i.e. the
model calls; garak: from its log, ``probe execute`` to ``probe return``, i.e. the probe's generation
loop). ``AUDITKIT_BENCH_GARAK_REPEATS`` overrides the rounds (quick 2, full 3).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import REPO, ChildRun, Measure, run_child

__all__ = ["DEFAULT_GARAK_PYTHON", "MAX_NEW_TOKENS", "find_garak", "run"]

DEFAULT_GARAK_PYTHON = Path("/tmp/garak-venv/bin/python")
MAX_NEW_TOKENS = 64
_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\s+\w+\s+(.*)$")


def find_garak() -> tuple[Path, str] | str:
    """``(python, garak version)`` of the garak interpreter, or why there is none."""
    python = Path(os.environ.get("AUDITKIT_GARAK_PYTHON") or DEFAULT_GARAK_PYTHON)
    if not python.is_file():
        return f"no garak interpreter at {python} (set AUDITKIT_GARAK_PYTHON to a Python that has garak)"
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, garak.cli; print(m.version('garak'))"],
        capture_output=True, text=True, env=dict(os.environ, **_OFFLINE), timeout=300,
    )
    if probe.returncode != 0:
        return f"{python} cannot import garak: {probe.stderr.strip().splitlines()[-1:] or probe.returncode}"
    return python, probe.stdout.strip()


def _model_folder() -> Path:
    """The bundled SmolLM2's converted safetensors folder (converted now if this machine never did)."""
    from auditkit.adapters.base import build_adapter, parse_model_spec

    adapter: Any = build_adapter(spec=parse_model_spec(spec="smollm2"))
    folder = Path(adapter.converted_dir)
    if not (folder / "auditkit-conversion.json").is_file():
        adapter.load()
        adapter.close()
    return folder


def _auditkit_cli() -> Path:
    return Path(sys.executable).with_name("auditkit")


def _full_suite(*, workdir: Path) -> Path:
    """48 chat prompts: the energy suite's 12, the bias suite's 24 open-ended and first 12 domain ones."""
    source = workdir / "source-prompts.jsonl"
    subprocess.run([str(_auditkit_cli()), "prompts", "energy", "bias", "-o", str(source)], check=True,
                   capture_output=True, cwd=REPO)
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    energy = [r for r in rows if r["suite"] == "energy"]
    open_ended = [r for r in rows if r["suite"] == "bias" and r["template"] == "open-ended"]
    domain = [r for r in rows if r["suite"] == "bias" and r["template"] == "domain"][:12]
    texts = [r["messages"][-1]["content"] for r in energy + open_ended + domain]
    suite = {
        "id": "garak-compare",
        "version": 1,
        "description": "Chat prompts of the energy and bias suites, for the garak comparison benchmark.",
        "analyzers": ["energy"],
        "generation": {"max_new_tokens": MAX_NEW_TOKENS, "temperature": 0},
        "samples": 1,
        "probes": [{"id": "chat", "description": "One user turn each.",
                    "messages": [{"role": "user", "content": "{{ text }}"}], "axes": {"text": texts}}],
    }
    path = workdir / "garak-compare.yaml"
    path.write_text(json.dumps(suite, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")  # JSON is YAML
    return path


def _prompts(*, suite: str, workdir: Path) -> list[dict[str, Any]]:
    """The prompts ``auditkit run SUITE`` sends, checked to be one user turn each with no per-probe pins."""
    out = workdir / "prompts.jsonl"
    subprocess.run([str(_auditkit_cli()), "prompts", suite, "-o", str(out)], check=True, capture_output=True,
                   cwd=REPO)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        messages = row.get("messages") or []
        if len(messages) != 1 or messages[0]["role"] != "user" or row.get("generation"):
            raise RuntimeError(f"prompt {row['id']} of {suite} is not one plain user turn without pins: "
                               "garak's Pipeline would not send the same thing")
    return rows


def _garak_files(*, rows: list[dict[str, Any]], workdir: Path) -> tuple[Path, Path]:
    probe_options = workdir / "garak-prompts.json"
    texts = [r["messages"][0]["content"] for r in rows]
    probe_options.write_text(json.dumps({"test": {"Test": {"prompts": texts}}}, ensure_ascii=False),
                             encoding="utf-8")
    config = workdir / "garak.yaml"
    config.write_text(
        "run:\n  generations: 1\n  seed: 0\n"
        f"reporting:\n  report_dir: {json.dumps(str(workdir / 'garak-runs'))}\n"
        "plugins:\n  generators:\n    huggingface:\n      Pipeline:\n"
        f"        max_tokens: {MAX_NEW_TOKENS}\n"
        "        hf_args:\n          dtype: float32\n          device: cpu\n          do_sample: false\n",
        encoding="utf-8",
    )
    return config, probe_options


def _garak_generation_s(log: Path) -> float | None:
    """Seconds from garak's ``probe execute`` to ``probe return`` log lines (its generation loop)."""
    start = end = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LOG_TIME.match(line)
        if not match:
            continue
        when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        if match.group(2).startswith("probe execute"):
            start = when
        elif match.group(2).startswith("probe return") and start is not None:
            end = when
    return (end - start).total_seconds() if start and end else None


def _garak_outputs(report: Path) -> dict[str, str]:
    outputs = {}
    for line in report.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("entry_type") == "attempt" and entry.get("status") == 2:
            text = entry["prompt"]["turns"][-1]["content"]["text"]
            first = (entry.get("outputs") or [None])[0] or {}
            outputs[text] = first.get("text") or ""
    return outputs


def _check(child: ChildRun, what: str) -> None:
    if child.returncode != 0:
        raise RuntimeError(f"{what} exited {child.returncode}: {(child.stderr or child.stdout)[-2000:]}")


def run(*, quick: bool, workdir: Path) -> list[Measure]:
    found = find_garak()
    if isinstance(found, str):
        print(f"   garak: skipped: {found}", file=sys.stderr)
        return []
    garak_python, garak_version = found
    workdir.mkdir(parents=True, exist_ok=True)
    folder = _model_folder()
    suite = "energy" if quick else str(_full_suite(workdir=workdir))
    suite_name = "energy" if quick else "garak-compare (energy + 36 bias chat prompts)"
    rows = _prompts(suite=suite, workdir=workdir)
    config, probe_options = _garak_files(rows=rows, workdir=workdir)
    repeats = int(os.environ.get("AUDITKIT_BENCH_GARAK_REPEATS") or (2 if quick else 3))

    env = dict(os.environ, **_OFFLINE)
    home = workdir / "garak-home"  # garak's config / cache / log dirs, kept out of the user's
    garak_env = dict(env, XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    # Warm-up, untimed: garak builds its user plugin cache on first use; both read the same weights file.
    subprocess.run([str(garak_python), "-m", "garak", "--plugin_info", "probes.test.Test"], env=dict(
        garak_env, XDG_DATA_HOME=str(home / "data-warmup")), capture_output=True, timeout=600, check=True)
    with open(folder / "model.safetensors", "rb") as weights:
        while weights.read(1 << 24):
            pass

    def auditkit(tag: str, batch: str) -> dict[str, Any]:
        out = workdir / f"auditkit-{tag}"
        shutil.rmtree(out, ignore_errors=True)
        argv = [str(_auditkit_cli()), "run", suite, "--model", f"hf:{folder}", "--no-cache",
                "--out", str(out), "--max-new-tokens", str(MAX_NEW_TOKENS), "--temperature", "0",
                "--batch-size", batch]
        child = run_child(argv, env=env, cwd=REPO, timeout=7200)
        _check(child, "auditkit run")
        gens = [json.loads(line) for line in (out / "outputs.jsonl").read_text(encoding="utf-8").splitlines()]
        return {"child": child, "generation_s": sum(g.get("latency_s") or 0.0 for g in gens),
                "outputs": {g["messages"][-1]["content"]: g.get("output") or "" for g in gens}}

    def garak(tag: str) -> dict[str, Any]:
        data = home / f"data-{tag}"
        shutil.rmtree(data, ignore_errors=True)
        argv = [str(garak_python), "-m", "garak", "--config", str(config),
                "--target_type", "huggingface.Pipeline", "--target_name", str(folder),
                "--spec", "probes.test.Test", "--detectors", "always.Pass", "--generations", "1",
                "--probe_option_file", str(probe_options), "--report_prefix", f"garak-{tag}"]
        child = run_child(argv, env=dict(garak_env, XDG_DATA_HOME=str(data)), cwd=workdir, timeout=7200)
        _check(child, "garak")
        return {"child": child, "generation_s": _garak_generation_s(data / "garak" / "garak.log"),
                "outputs": _garak_outputs(workdir / "garak-runs" / f"garak-{tag}.report.jsonl")}

    arms: dict[str, list[dict[str, Any]]] = {"auditkit": [], "auditkit-b1": [], "garak": []}
    loads = []
    for i in range(repeats):
        order = ["auditkit", "garak", "auditkit-b1"] if i % 2 == 0 else ["auditkit-b1", "garak", "auditkit"]
        for arm in order:
            print(f"   garak benchmark: round {i + 1}/{repeats}: {arm}", file=sys.stderr, flush=True)
            if arm == "garak":  # noqa: SIM108 - one call per arm reads better than a nested conditional
                result = garak(str(i))
            else:
                result = auditkit(f"{arm}-{i}", "1" if arm == "auditkit-b1" else "8")
            arms[arm].append(result)
            loads.append(round(os.getloadavg()[0], 2))

    n = len(rows)
    reference = arms["garak"][0]["outputs"]
    same = {arm: sum(results[0]["outputs"].get(r["messages"][0]["content"], "").strip()
                     == reference.get(r["messages"][0]["content"], "\0").strip() for r in rows)
            for arm, results in arms.items() if arm != "garak"}

    def med(arm: str, key: str) -> float:
        values = [getattr(r["child"], key) if key != "generation_s" else r["generation_s"] for r in arms[arm]]
        return statistics.median(v for v in values if v is not None)

    def series(arm: str) -> dict[str, list[Any]]:
        return {"wall_s": [round(r["child"].wall_s, 2) for r in arms[arm]],
                "cpu_s": [r["child"].cpu_s for r in arms[arm]],
                "peak_rss_mb": [round(r["child"].peak_rss_mb, 1) for r in arms[arm]],
                "generation_s": [round(r["generation_s"], 2) if r["generation_s"] is not None else None
                                 for r in arms[arm]]}

    settings = (f"{n} prompts ({suite_name}), 1 generation each, greedy, {MAX_NEW_TOKENS} new tokens, "
                "SmolLM2-135M fp32 CPU, offline; auditkit: energy analyzer, batch 8; garak "
                f"{garak_version}: huggingface.Pipeline (one prompt per call), always.Pass detector; "
                f"same text auditkit/garak {same['auditkit']}/{n}; median of {repeats}, interleaved")
    details = {"prompts": n, "suite": suite_name, "garak_version": garak_version, "model_folder": str(folder),
               "repeats": repeats, "same_text_vs_garak": same, "load_average_1m_after_each_run": loads,
               **{arm: series(arm) for arm in arms}}
    return [
        Measure(benchmark="garak", measure=f"auditkit run / garak run, {n} prompts: wall", unit="s",
                value=med("auditkit", "wall_s"), baseline=med("garak", "wall_s"), target=None, notes=settings,
                details=details),
        Measure(benchmark="garak", measure=f"auditkit run / garak run, {n} prompts: CPU", unit="s",
                value=med("auditkit", "cpu_s"), baseline=med("garak", "cpu_s"), target=None,
                notes="user + system CPU seconds of each child (less sensitive to other load than wall)"),
        Measure(benchmark="garak", measure="auditkit --batch-size 1 / garak: wall", unit="s",
                value=med("auditkit-b1", "wall_s"), baseline=med("garak", "wall_s"), target=None,
                notes="auditkit one prompt per model call, as garak's Pipeline; "
                      f"same text {same['auditkit-b1']}/{n}"),
        Measure(benchmark="garak", measure="auditkit / garak: generation s per prompt", unit="s",
                value=med("auditkit", "generation_s") / n, baseline=med("garak", "generation_s") / n,
                target=None,
                notes="auditkit: sum of outputs' latency_s (model calls, batch 8); "
                      "garak: log 'probe execute' to 'probe return'"),
        Measure(benchmark="garak", measure="auditkit --batch-size 1 / garak: generation s per prompt",
                unit="s",
                value=med("auditkit-b1", "generation_s") / n, baseline=med("garak", "generation_s") / n,
                target=None, notes="both one prompt per model call"),
        Measure(benchmark="garak", measure="auditkit run / garak run: peak RSS", unit="MB",
                value=med("auditkit", "peak_rss_mb"), baseline=med("garak", "peak_rss_mb"), target=None,
                notes="GNU time %M of each child"),
    ]
