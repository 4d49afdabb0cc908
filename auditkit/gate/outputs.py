"""Where a gate decision goes on disk: junit.xml, summary.md, and the CI job summary.

Shared by ``auditkit gate`` and by anything else that gates a run (the engine's ``run --policy``), so
every path writes the same files the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from auditkit.gate.evaluate import GateDecision
from auditkit.gate.junit import write_junit
from auditkit.gate.summary import markdown_summary

__all__ = ["GateFiles", "JUNIT_FILE", "SUMMARY_FILE", "write_gate_outputs"]

JUNIT_FILE = "junit.xml"
SUMMARY_FILE = "summary.md"


@dataclass(frozen=True, slots=True)
class GateFiles:
    junit: Path
    summary: Path
    step_summary: Path | None
    """``$GITHUB_STEP_SUMMARY`` when it was set and appended to."""


def write_gate_outputs(
    *, decision: GateDecision, run_dir: Path, junit: Path | None = None, summary: Path | None = None
) -> GateFiles:
    """Write ``junit.xml`` and ``summary.md`` (default: in ``run_dir``); append the summary to
    ``$GITHUB_STEP_SUMMARY`` when set (GitHub Actions shows it on the run page)."""
    junit_path = write_junit(decision=decision, path=junit or Path(run_dir) / JUNIT_FILE)
    text = markdown_summary(decision=decision)
    summary_path = Path(summary or Path(run_dir) / SUMMARY_FILE)
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(text, encoding="utf-8")
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return GateFiles(junit=junit_path, summary=summary_path, step_summary=Path(step) if step else None)
