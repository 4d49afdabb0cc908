"""The records the engine's stages hand to each other (see :mod:`auditkit.engine.run`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditkit.adapters.base import Adapter, AdapterAbilities, ModelSpec
from auditkit.analyzers.base import Analyzer, Observation
from auditkit.energy.meter import EnergyMeter
from auditkit.engine.analysis import ScoreCachePlan
from auditkit.engine.cache import GenerationStore
from auditkit.engine.executor import Executor
from auditkit.engine.plan import AuditRequest, Plan
from auditkit.engine.results import OUTPUTS_FILE, RESULTS_FILE
from auditkit.records import Finding, Generation, Metric, Score

__all__ = [
    "Aggregated",
    "AuditResult",
    "CacheLookup",
    "Generated",
    "RunContext",
    "Scored",
    "Workers",
    "Written",
]


@dataclass(frozen=True, slots=True)
class AuditResult:
    """What a finished (or stopped) run produced."""

    run_dir: Path
    status: str
    """``complete`` or ``incomplete``."""
    counts: Mapping[str, int]
    metrics: tuple[Metric, ...]
    findings: tuple[Finding, ...]
    gate: Mapping[str, Any] | None = None
    passed: bool | None = None
    """The gate's decision; ``None`` when no policy was given (or the run was incomplete)."""
    report: Path | None = None
    reason: str | None = None
    """Why the run is incomplete, when it is."""

    @property
    def results_path(self) -> Path:
        return self.run_dir / RESULTS_FILE

    @property
    def outputs_path(self) -> Path:
        return self.run_dir / OUTPUTS_FILE

    @property
    def exit_code(self) -> int:
        """The CLI contract: 3 incomplete, 1 gate failed, else 0."""
        if self.status != "complete":
            return 3
        return 1 if self.passed is False else 0


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """What the cache already holds for this run, found before anything is generated."""

    keys: Mapping[str, str]
    """Generation cache key per prompt id."""
    cached: Mapping[str, Generation]
    """Cached generations per prompt id."""
    scoring: ScoreCachePlan


@dataclass(frozen=True, slots=True)
class RunContext:
    """What the planning stage fixed for the rest of the run."""

    request: AuditRequest
    spec: ModelSpec
    """The model spec, with ``--model-arg`` options and (where the adapter takes it) ``concurrency``."""
    abilities: AdapterAbilities
    plan: Plan
    adapter: Adapter
    analyzers: Mapping[str, Analyzer]
    options: Mapping[str, Mapping[str, Any]]
    """Each analyzer's effective options."""
    cache: GenerationStore
    lookup: CacheLookup
    created_at: str
    started: float
    """``time.monotonic()`` when the run began (for the manifest's duration)."""

    @property
    def out(self) -> Path:
        return Path(self.request.out)


@dataclass(frozen=True, slots=True)
class Workers:
    """Where batches run and how their energy is metered, for the generate and score stages."""

    meter: EnergyMeter
    executor: Executor


@dataclass(frozen=True, slots=True)
class Generated:
    """One generation per planned prompt (``NOT_GENERATED`` errors where the run stopped early)."""

    generations: Mapping[str, Generation]
    meter_info: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Scored:
    """The observations each analyzer saw and every score of the run."""

    items: Mapping[str, list[Observation]]
    scores: tuple[Score, ...]


@dataclass(frozen=True, slots=True)
class Aggregated:
    """Metrics, findings and analyzer summaries, with the run's status."""

    metrics: tuple[Metric, ...]
    findings: tuple[Finding, ...]
    analyses: Mapping[str, Any]
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Written:
    """The run directory's files are written: the result, and results.json's content (``gate`` null)."""

    result: AuditResult
    data: Mapping[str, Any]
