"""Analysis stage of a run: build the analyzers, score outputs in batches, aggregate all scores.

Scoring goes through the executor (in process or on Ray), batch by batch; scores are kept in batch order
so every executor hands ``aggregate`` the same sequence. An analyzer whose aggregation crashes is
recorded as failed and the run marked incomplete; the other analyzers' results are kept.

Analyzers that declare ``cache_scores`` have their scores looked up in the run cache first, all at once
and in the driver (so any executor works unchanged); only the misses go to the executor, and each scored
batch is committed as it comes back. Their scores are handed to ``aggregate`` in output order, whether
they came from the cache or the scorer, so a rerun aggregates exactly the sequence the first run did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditkit.adapters.base import LOCAL, AdapterAbilities, AdapterIdentity
from auditkit.analyzers.base import (
    Analysis,
    Analyzer,
    Observation,
    analyzer_info,
    build_analyzer,
    caches_scores,
    declared_metric_specs,
    load_analyzer,
)
from auditkit.analyzers.metric_spec import specs_to_json
from auditkit.engine.cache import GenerationStore, analyzer_key, output_digest, score_key
from auditkit.engine.executor import AnalyzerSource, Executor, ScoreBatch, ScoreOutcome
from auditkit.engine.plan import Plan
from auditkit.engine.progress import Progress
from auditkit.errors import AuditkitError, ConfigError
from auditkit.records import Finding, Generation, Metric, Prompt, Score

__all__ = [
    "OutputDigests",
    "RunTally",
    "ScoreCachePlan",
    "aggregate_scores",
    "analyzer_cache_keys",
    "analyzer_options",
    "build_analyzers",
    "prepare_scoring",
    "score_outputs",
    "scorers_needed",
]


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
    scores_cached: int = 0
    """Outputs × analyzers whose scores came from the cache."""
    scores_computed: int = 0
    """Outputs × analyzers scored in this run."""
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


class OutputDigests:
    """``output_digest`` per prompt, computed once per run and shared by every cached analyzer."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[Generation, str]] = {}

    def key(self, *, analyzer: str, prompt: Prompt, generation: Generation) -> str:
        """The score key of this output for the analyzer whose ``analyzer_key`` is ``analyzer``."""
        memo = self._memo.get(prompt.id)
        # Keyed by prompt id but checked by identity: the lookup before generation sees the cached
        # generation, and the scoring step sees that very object again (or a fresh one, which misses).
        if memo is None or memo[0] is not generation:
            memo = (generation, output_digest(prompt=prompt, generation=generation))
            self._memo[prompt.id] = memo
        return score_key(analyzer=analyzer, output=memo[1])


def analyzer_options(
    *, plan: Plan, identity: AdapterIdentity, abilities: AdapterAbilities = LOCAL
) -> dict[str, dict[str, Any]]:
    """Each analyzer's effective options (remote executors build their scorers from exactly these)."""
    effective = {}
    for name in plan.analyzer_names:
        options = dict(plan.analyzer_options.get(name, {}))
        if analyzer_info(name=name).wants_model_facts:
            # Suite and command-line options still win; an ``adapter`` named there (e.g. replayed
            # outputs of an API) is judged by that adapter's abilities.
            ran: dict[str, Any] = {"adapter": identity.adapter, "model": identity.model}
            if "adapter" not in options:
                ran["energy_source"] = abilities.energy_source
            options = ran | options
        effective[name] = options
    return effective


def build_analyzers(
    *, plan: Plan, identity: AdapterIdentity, abilities: AdapterAbilities = LOCAL
) -> dict[str, Analyzer]:
    built = {}
    for name, options in analyzer_options(plan=plan, identity=identity, abilities=abilities).items():
        analyzer = build_analyzer(name=name, options=options)
        if analyzer.name != name:
            raise ConfigError(
                f"The analyzer registered as {name!r} calls itself {analyzer.name!r}; "
                "its scores would be misfiled. Fix the plugin's name."
            )
        # A broken identity (a missing package, weights that cannot be found; for some scorers the
        # model load itself) must stop the run before hours of generation, not after. Loading what
        # scoring needs is the engine's next step, and only for analyzers with outputs to score.
        dict(analyzer.identity)
        built[name] = analyzer
    return built


def analyzer_cache_keys(
    *, analyzers: Mapping[str, Analyzer], options: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """An ``analyzer_key`` for each analyzer that declared ``cache_scores``; the others are never cached."""
    keys = {}
    for name, analyzer in analyzers.items():
        if caches_scores(analyzer):
            # Options the analyzer reads only when aggregating do not change any output's scores.
            ignored = set(getattr(analyzer, "aggregate_options", ()))
            scored = {k: v for k, v in options.get(name, {}).items() if k not in ignored}
            keys[name] = analyzer_key(name=name, identity=analyzer.identity, options=scored)
    return keys


def _prompts_for(plan: Plan, name: str, analyzer: Analyzer) -> list[Prompt]:
    if getattr(analyzer, "scope", "probes") == "run":
        return list(plan.prompts)
    return [p for p in plan.prompts if name in p.analyzers]


def scorers_needed(
    *,
    plan: Plan,
    analyzers: Mapping[str, Analyzer],
    keys: Mapping[str, str],
    cached: Mapping[str, Generation],
    store: GenerationStore,
    digests: OutputDigests,
) -> list[str]:
    """Analyzers that will score something in this run, known before generation.

    An analyzer will score unless it is cached (``keys``), every one of its prompts has a cached
    generation and every such output's scores are stored: a prompt still to be generated may well
    succeed and need scoring.
    """
    needed = []
    for name, analyzer in analyzers.items():
        prompts = _prompts_for(plan, name, analyzer)
        if not prompts:
            continue
        key = keys.get(name)
        if key is None or any(p.id not in cached for p in prompts):
            needed.append(name)
            continue
        wanted = {digests.key(analyzer=key, prompt=p, generation=cached[p.id]) for p in prompts}
        if store.present_scores(list(wanted)) != wanted:
            needed.append(name)
    return needed


@dataclass(frozen=True, slots=True)
class ScoreCachePlan:
    """How this run's scores are cached, settled before generation."""

    keys: Mapping[str, str]
    """``analyzer_key`` per analyzer whose scores are cached (the others are absent)."""
    digests: OutputDigests
    loaded: tuple[str, ...]
    """Analyzers loaded because they will score something."""


def prepare_scoring(
    *,
    plan: Plan,
    analyzers: Mapping[str, Analyzer],
    options: Mapping[str, Mapping[str, Any]],
    cached: Mapping[str, Generation],
    store: GenerationStore,
) -> ScoreCachePlan:
    """Load the analyzers that will score (before generation, so a broken scorer stops the run with
    exit 2 before any of it), and only those: a fully cached rerun pays for no model load."""
    keys = analyzer_cache_keys(analyzers=analyzers, options=options)
    digests = OutputDigests()
    needed = scorers_needed(
        plan=plan, analyzers=analyzers, keys=keys, cached=cached, store=store, digests=digests
    )
    for name in needed:
        load_analyzer(analyzers[name])
    return ScoreCachePlan(keys=keys, digests=digests, loaded=tuple(needed))


def score_outputs(
    *,
    plan: Plan,
    analyzers: Mapping[str, Analyzer],
    options: Mapping[str, Mapping[str, Any]],
    generations: Mapping[str, Generation],
    executor: Executor,
    progress: Progress,
    tally: RunTally,
    store: GenerationStore | None = None,
    caching: ScoreCachePlan | None = None,
) -> tuple[dict[str, list[Observation]], list[Score]]:
    """Score every output each analyzer is given; analyzers with a key in ``caching`` have their scores
    looked up in and written to ``store``."""
    keys = caching.keys if caching is not None else {}
    digests = caching.digests if caching is not None else OutputDigests()
    items_by_analyzer: dict[str, list[Observation]] = {}
    all_scores: list[Score] = []
    any_scored = False
    for name, analyzer in analyzers.items():
        items = [
            Observation(prompt=p, generation=generations[p.id]) for p in _prompts_for(plan, name, analyzer)
        ]
        items_by_analyzer[name] = items
        scorable = [i for i in items if i.generation.ok]
        if not scorable:
            continue
        any_scored = True
        cached = store is not None and name in keys
        output_keys: dict[str, str] = {}
        found: dict[str, tuple[Score, ...]] = {}
        if cached:
            output_keys = {
                i.prompt.id: digests.key(analyzer=keys[name], prompt=i.prompt, generation=i.generation)
                for i in scorable
            }
            found = store.get_scores(list(output_keys.values()))  # type: ignore[union-attr]
        todo = [i for i in scorable if output_keys.get(i.prompt.id) not in found]
        hits = len(scorable) - len(todo)
        tally.scored_items += hits  # cached outputs were scored: they count in the error rate's base
        tally.scores_cached += hits
        by_batch = _run_batches(
            name=name,
            analyzer=analyzer,
            options=options.get(name, {}),
            todo=todo,
            executor=executor,
            progress=progress,
            tally=tally,
            store=store if cached else None,
            output_keys=output_keys,
        )
        if not cached:
            for index in sorted(by_batch):
                all_scores.extend(by_batch[index])
            continue
        # Output order, not batch order: a rerun mixes cached and fresh scores and must aggregate the
        # same sequence as the run that scored everything.
        own: dict[str, list[Score]] = {pid: list(found[k]) for pid, k in output_keys.items() if k in found}
        scored_ids = {i.prompt.id for i in todo}
        strays: list[Score] = []
        for index in sorted(by_batch):
            for score in by_batch[index]:
                if score.prompt_id in scored_ids:
                    own.setdefault(score.prompt_id, []).append(score)
                else:
                    strays.append(score)
        for item in scorable:
            all_scores.extend(own.get(item.prompt.id, ()))
        all_scores.extend(strays)
    if any_scored:
        progress.log(f"scores: {tally.scores_cached} cached, {tally.scores_computed} computed")
    return items_by_analyzer, all_scores


def _run_batches(
    *,
    name: str,
    analyzer: Analyzer,
    options: Mapping[str, Any],
    todo: Sequence[Observation],
    executor: Executor,
    progress: Progress,
    tally: RunTally,
    store: GenerationStore | None,
    output_keys: Mapping[str, str],
) -> dict[int, Sequence[Score]]:
    """Score ``todo`` through the executor; each batch's scores, by batch index (committed to ``store``
    per batch when given)."""
    by_batch: dict[int, Sequence[Score]] = {}
    if not todo:
        return by_batch
    size = max(1, int(getattr(analyzer, "batch_size", 64) or 64))
    batches = [
        ScoreBatch(index=n, items=tuple(todo[s : s + size])) for n, s in enumerate(range(0, len(todo), size))
    ]
    task = progress.task(description=f"scoring {name}", total=len(todo))

    # Executors may finish batches in any order; scores are kept by batch index so every executor hands
    # aggregate() the same sequence (and so the same results).
    def on_batch(outcome: ScoreOutcome) -> None:
        if outcome.error is not None:
            scores: Sequence[Score] = [
                Score(prompt_id=i.prompt.id, analyzer=name, name="error", value=None, error=outcome.error)
                for i in outcome.batch.items
            ]
        else:
            scores = outcome.scores
        failed = {s.prompt_id for s in scores if s.error is not None and s.analyzer == name}
        tally.scored_items += len(outcome.batch.items)
        tally.scores_computed += len(outcome.batch.items)
        tally.score_errors += len(failed)
        by_batch[outcome.batch.index] = scores
        if store is not None and outcome.error is None:
            _store_batch(store=store, name=name, batch=outcome.batch, scores=scores, output_keys=output_keys)
        task.advance(len(outcome.batch.items))

    try:
        executor.score(
            analyzer=AnalyzerSource(name=name, options=options, local=analyzer),
            batches=batches,
            on_batch=on_batch,
        )
    finally:
        task.finish()
    return by_batch


def _store_batch(
    *,
    store: GenerationStore,
    name: str,
    batch: ScoreBatch,
    scores: Sequence[Score],
    output_keys: Mapping[str, str],
) -> None:
    """Commit one scored batch: each output's scores under its key, in one transaction."""
    per_output: dict[str, list[Score]] = {i.prompt.id: [] for i in batch.items}
    for score in scores:
        if score.prompt_id not in per_output:
            # A score for an output outside the batch cannot be filed under any key; storing the rest
            # would drop it from a rerun's results.
            return
        per_output[score.prompt_id].append(score)
    # put_scores skips outputs with an error score: a transient failure is retried by the next run.
    store.put_scores((output_keys[pid], name, own) for pid, own in per_output.items())


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
        specs = declared_metric_specs(analyzer)
        if specs:  # what each metric means, so the report and gate judge changes from the run alone
            entry["metric_specs"] = specs_to_json(specs)
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
