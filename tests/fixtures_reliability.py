"""Helpers for the reliability, security and determinism tests: a small real suite, the CLI in-process
with captured output, and run-directory comparison that ignores what is measured rather than computed.

What differs between two correct runs of the same audit, and only that, is dropped before comparing:
wall-clock timestamps and durations, the command line (it names the --out and --cache paths), and per
output the measured ``latency_s`` / ``cpu_s`` / ``energy_j``. A resumed run also differs in its cache
bookkeeping (``counts``, ``cache``, per-output ``cached``), which ``resumed=True`` drops as well.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditkit.cli.app import main

__all__ = [
    "CliResult",
    "WORDS",
    "cache_rows",
    "normalized_outputs",
    "normalized_results",
    "run_cli",
    "write_word_suite",
]

# Distinct words, none a substring of another, so the loopback server's `match=` hits exactly one prompt.
WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
)  # fmt: skip

_VOLATILE_MANIFEST = frozenset({"created_at", "finished_at", "duration_s", "command"})
_RESUME_MANIFEST = frozenset({"counts", "cache"})
_MEASURED = frozenset({"latency_s", "cpu_s", "energy_j"})


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def run_cli(args: Sequence[str]) -> CliResult:
    """``auditkit ARGS`` in this process; an exception other than the CLI's own escapes (and fails)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliResult(code=code, out=out.getvalue(), err=err.getvalue())


def write_word_suite(
    directory: Path,
    *,
    n: int = 10,
    suite_id: str = "reliability",
    template: str = "please repeat the word {{ word }} now",
    generation: dict[str, Any] | None = None,
) -> Path:
    """A suite of ``n`` prompts (one per word in ``WORDS``) scored by the real profanity-check scorer."""
    doc = {
        "id": suite_id,
        "version": 1,
        "description": "Reliability test suite.",
        "analyzers": ["toxicity"],
        "analyzer_options": {"toxicity": {"backend": "profanity-check"}},
        "generation": generation or {"max_new_tokens": 16},
        "probes": [{"id": "words", "prompt": template, "axes": {"word": list(WORDS[:n])}}],
    }
    path = directory / f"{suite_id}.yaml"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def normalized_results(run_dir: Path, *, resumed: bool = False) -> dict[str, Any]:
    """results.json without timestamps, durations, paths (and cache bookkeeping when ``resumed``)."""
    data = json.loads((Path(run_dir) / "results.json").read_text(encoding="utf-8"))
    drop = _VOLATILE_MANIFEST | (_RESUME_MANIFEST if resumed else frozenset())
    data["manifest"] = {k: v for k, v in data["manifest"].items() if k not in drop}
    return data


def normalized_outputs(run_dir: Path, *, resumed: bool = False) -> list[dict[str, Any]]:
    """outputs.jsonl lines without measured cost fields (and ``cached`` when ``resumed``)."""
    drop = _MEASURED | ({"cached"} if resumed else frozenset())
    lines = (Path(run_dir) / "outputs.jsonl").read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in lines]


def cache_rows(path: Path) -> list[str]:
    """Prompt ids of the committed rows of a cache file, read-only (0 rows when it does not exist yet)."""
    if not Path(path).exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return [row[0] for row in db.execute("SELECT prompt_id FROM generations")]
        finally:
            db.close()
    except sqlite3.OperationalError:  # the writer has not created the table yet
        return []
