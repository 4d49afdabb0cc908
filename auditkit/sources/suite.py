"""YAML suites as a prompt source: a built-in name (``bias``) or a suite file (``./mine.yaml``).

Every reference without a registered scheme comes here; ``suite:REF`` names it explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.sources.base import LoadedSource, prompt_sources
from auditkit.suites import Suite, expand, load_suite

__all__ = ["SuiteSource"]


@prompt_sources.register("suite")
class SuiteSource:
    """A YAML suite: its probes decide their analyzers; the suite file is validated with line numbers."""

    analyzers: tuple[str, ...] | None = None
    needs_loglik = False
    reads_analyzer_options = False

    def __init__(self, *, target: str) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"SuiteSource(target={self.target!r})"

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        suite = load_suite(ref=self.target)
        return LoadedSource(
            id=suite.id,
            version=suite.version,
            hash=suite.hash,
            source=suite.source,
            prompts=tuple(expand(suite=suite, samples=samples)),
            generation=suite.generation,
            generation_by_suite=_generation_by_suite(suite),
            analyzer_options=suite.analyzer_options,
            suite=suite,
        )


def _generation_by_suite(suite: Suite) -> dict[str, Mapping[str, Any]]:
    """Each suite id's defaults, the first found depth-first winning (as ``Suite.generation_for``)."""
    found: dict[str, Mapping[str, Any]] = {}
    stack = [suite]
    while stack:
        current = stack.pop()
        found.setdefault(current.id, current.generation)
        stack.extend(reversed(current.includes))
    return found
