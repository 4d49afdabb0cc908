"""Analysis stage of a run: build the analyzers, score outputs in batches, aggregate all scores.

Scoring goes through the executor (in process or on Ray), batch by batch; scores are kept in batch order
so every executor hands ``aggregate`` the same sequence. An analyzer whose aggregation crashes is
recorded as failed and the run marked incomplete; the other analyzers' results are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from auditkit.adapters.base import AdapterIdentity
from auditkit.analyzers.base import Analysis, Analyzer, Observation, build_analyzer
from auditkit.engine.executor import AnalyzerSource, Executor, ScoreBatch, ScoreOutcome
from auditkit.engine.plan import Plan
from auditkit.engine.progress import Progress
from auditkit.errors import AuditkitError, ConfigError
from auditkit.records import Finding, Generation, Metric, Score

__all__ = ["RunTally", "aggregate_scores", "analyzer_options", "build_analyzers", "score_outputs"]


@dataclass
class RunTally:
    """Mutable counters of one run (driver-side only)."""

    attempted: int = 0
    generated: int = 0
    cached: int = 0
    errors: int = 0
    not_generated: int = 0
    scored_items: int = 0
    score_errors: int = 0
    stopped: bool = False
    reasons: list[str] = field(default_factory=list)

    def counts(self, prompts: int) -> dict[str, int]:
        return {
            "prompts": prompts,
            "generated": self.generated,
            "cached": self.cached,
            "errors": self.errors,
            "not_generated": self.not_generated,
            "score_errors": self.score_errors,
        }


def analyzer_options(*, plan: Plan, identity: AdapterIdentity) -> dict[str, dict[str, Any]]:
    """Each analyzer's effective options (remote executors build their scorers from exactly these)."""
    effective = {}
    for name in plan.analyzer_names:
        options = dict(plan.analyzer_options.get(name, {}))
        if name == "energy":
            # Remote outputs are modelled from the model's size: the analyzer must know what ran.
            # Suite and command-line options still win.
            options = {"adapter": identity.adapter, "model": identity.model} | options
        effective[name] = options
    return effective


def build_analyzers(*, plan: Plan, identity: AdapterIdentity) -> dict[str, Analyzer]:
    built = {}
    for name, options in analyzer_options(plan=plan, identity=identity).items():
        analyzer = build_analyzer(name=name, options=options)
        if analyzer.name != name:
            raise ConfigError(
                f"The analyzer registered as {name!r} calls itself {analyzer.name!r}; "
                "its scores would be misfiled. Fix the plugin's name."
            )
        # Reading the identity loads the scorer (weights hash, version): a scorer that cannot load
        # must stop the run before hours of generation, not after.
        dict(analyzer.identity)
        built[name] = analyzer
    return built


def score_outputs(
    *,
    plan: Plan,
    analyzers: Mapping[str, Analyzer],
    options: Mapping[str, Mapping[str, Any]],
    generations: Mapping[str, Generation],
    executor: Executor,
    progress: Progress,
    tally: RunTally,
) -> tuple[dict[str, list[Observation]], list[Score]]:
    items_by_analyzer: dict[str, list[Observation]] = {}
    all_scores: list[Score] = []
    for name, analyzer in analyzers.items():
        whole_run = getattr(analyzer, "scope", "probes") == "run"
        items = [
            Observation(prompt=p, generation=generations[p.id])
            for p in plan.prompts
            if whole_run or name in p.analyzers
        ]
        items_by_analyzer[name] = items
        scorable = [i for i in items if i.generation.ok]
        if not scorable:
            continue
        size = max(1, int(getattr(analyzer, "batch_size", 64) or 64))
        batches = [
            ScoreBatch(index=n, items=tuple(scorable[s : s + size]))
            for n, s in enumerate(range(0, len(scorable), size))
        ]
        task = progress.task(description=f"scoring {name}", total=len(scorable))
        # Executors may finish batches in any order; scores are kept in batch order so every executor
        # hands aggregate() the same sequence (and so the same results).
        by_batch: dict[int, Sequence[Score]] = {}

        def on_batch(
            outcome: ScoreOutcome, name: str = name, task: Any = task, by_batch: dict = by_batch
        ) -> None:
            if outcome.error is not None:
                scores: Sequence[Score] = [
                    Score(prompt_id=i.prompt.id, analyzer=name, name="error", value=None, error=outcome.error)
                    for i in outcome.batch.items
                ]
            else:
                scores = outcome.scores
            failed = {s.prompt_id for s in scores if s.error is not None and s.analyzer == name}
            tally.scored_items += len(outcome.batch.items)
            tally.score_errors += len(failed)
            by_batch[outcome.batch.index] = scores
            task.advance(len(outcome.batch.items))

        try:
            executor.score(
                analyzer=AnalyzerSource(name=name, options=options.get(name, {}), local=analyzer),
                batches=batches,
                on_batch=on_batch,
            )
        finally:
            task.finish()
            for index in sorted(by_batch):
                all_scores.extend(by_batch[index])
    return items_by_analyzer, all_scores


def aggregate_scores(
    *,
    analyzers: Mapping[str, Analyzer],
    items: Mapping[str, list[Observation]],
    scores: Sequence[Score],
    progress: Progress,
    tally: RunTally,
) -> tuple[list[Metric], list[Finding], dict[str, Any]]:
    metrics: list[Metric] = []
    findings: list[Finding] = []
    analyses: dict[str, Any] = {}
    for name, analyzer in analyzers.items():
        entry: dict[str, Any] = {"identity": dict(analyzer.identity), "summary": {}}
        try:
            analysis: Analysis = analyzer.aggregate(items=items.get(name, []), scores=scores)
        except AuditkitError:
            raise
        except Exception as exc:  # keep the other analyzers' results; this one is reported as failed
            message = f"{type(exc).__name__}: {exc}"
            progress.warn(f"analyzer {name!r} failed to aggregate: {message}")
            entry["error"] = message
            tally.reasons.append(f"analyzer {name} failed to aggregate")
        else:
            metrics.extend(analysis.metrics)
            findings.extend(analysis.findings)
            entry["summary"] = dict(analysis.summary)
        analyses[name] = entry
    return metrics, findings, analyses
