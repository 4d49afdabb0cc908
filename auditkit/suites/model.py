"""The resolved suite as records: ``Suite`` (includes resolved, hash computed), its ``Probe`` s, ``SuiteInfo``.

Only data and counting live here; ``auditkit.suites.loading`` builds these records from suite files and
``auditkit.suites.expansion`` turns them into ``Prompt`` records.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditkit.suites.templating import Template

__all__ = ["Probe", "Suite", "SuiteInfo"]


@dataclass(frozen=True, slots=True)
class SuiteInfo:
    """A built-in suite as listed by ``auditkit suites list`` (read without validating it)."""

    name: str
    """What to type: ``auditkit run NAME``."""
    description: str
    path: Path


@dataclass(frozen=True, slots=True)
class Probe:
    """One resolved probe: templates compiled, rows read, defaults of its suite applied."""

    suite: str
    """Id of the suite that defines it (included probes keep their own suite's id)."""
    id: str
    description: str
    file: str
    """Suite file it comes from, as shown to the user."""
    line: int
    prompt: Template | None
    messages: tuple[tuple[str, Template], ...] | None
    """``(role, content template)`` per chat turn."""
    reference: Template | None
    attributes: tuple[tuple[str, Template], ...]
    rows: tuple[Mapping[str, Any], ...]
    """Row variables; a probe without rows has one empty row."""
    row_origins: tuple[str, ...]
    """Where each row comes from (``row 3`` or ``data/passages.jsonl:3``), for messages."""
    axes: tuple[tuple[str, tuple[str, ...]], ...]
    counterfactual: tuple[tuple[str, tuple[str, ...]], ...]
    """``(axis, groups)`` for each counterfactual axis."""
    analyzers: tuple[str, ...]
    generation: Mapping[str, Any]
    """Generation pins of the probe (win over the run's settings)."""
    samples: int | None
    """Samples pinned by the probe, or ``None`` to take the run's (or suite's) number."""
    default_samples: int
    """Samples from the suite chain when neither probe nor command line says."""
    definition: Mapping[str, Any] = field(repr=False)
    """JSON-ready resolved definition (templates, rows, groups...): what the suite hash covers."""

    def samples_for(self, *, samples: int | None) -> int:
        return self.samples or samples or self.default_samples

    def count(self, *, samples: int | None = None) -> int:
        """How many prompts ``expand`` makes from this probe."""
        combos = math.prod(len(values) for _, values in self.axes)
        groups = sum(len(values) for _, values in self.counterfactual) or 1
        return len(self.rows) * combos * groups * self.samples_for(samples=samples)


@dataclass(frozen=True, slots=True)
class Suite:
    """A fully resolved suite. ``probes`` include those of included suites (filtered as asked)."""

    id: str
    version: int
    description: str
    source: str
    """How it was named: ``builtin:NAME`` or the file path given."""
    path: Path
    hash: str
    """sha256 of the canonical JSON of the resolved definition (includes and row data too)."""
    analyzers: tuple[str, ...]
    """This suite's default analyzers (included probes carry their own suite's defaults)."""
    analyzer_options: Mapping[str, Mapping[str, Any]]
    """Analyzer factory options merged over this suite and every included suite."""
    generation: Mapping[str, Any]
    """This suite's GenerationConfig defaults (an including suite's settings pushed down win).

    Included suites keep their own defaults for their own prompts (toxicity samples at temperature 1
    while bias decodes greedily in the same run): look them up with ``generation_for``."""
    samples: int
    """Default samples per prompt (the command line's ``--samples`` overrides it)."""
    groups: Mapping[str, tuple[str, ...]]
    probes: tuple[Probe, ...]
    includes: tuple[Suite, ...]
    """The included suites as resolved here (for the manifest: each keeps its id, version and hash)."""

    def count(self, *, samples: int | None = None) -> int:
        """How many prompts ``expand`` makes."""
        return sum(probe.count(samples=samples) for probe in self.probes)

    def generation_for(self, *, suite_id: str) -> Mapping[str, Any]:
        """Generation defaults of the suite (this one or an included one) whose prompts carry ``suite_id``."""
        if suite_id == self.id:
            return self.generation
        for child in self.includes:
            found = child.generation_for(suite_id=suite_id)
            if found is not None:
                return found
        return None  # type: ignore[return-value]  # only reached inside the recursion
