"""Shared helpers for the suite tests: the fixture folder and a writer for throw-away suite files."""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["SUITES_DIR", "write_suite"]

SUITES_DIR = Path(__file__).resolve().parent / "data" / "suites"
"""Fixture suites, good (good.yaml, rows.yaml, include_parent.yaml) and malformed (the rest)."""


def write_suite(directory: Path, text: str, *, name: str = "suite.yaml") -> Path:
    """Write ``text`` (dedented) as a suite file in ``directory`` and return its path."""
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
