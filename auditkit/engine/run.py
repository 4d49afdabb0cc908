"""One audit's engine as named stages: plan → generate → score → aggregate → write.

Each stage is a short function over typed records; :func:`auditkit.api.run_audit` composes them, then
applies the gate and renders the report (neither is the engine's business)::

    context = plan_run(request=request)          # adapter built (cheap), plan and cache looked up
    with Progress(quiet=True) as progress, open_workers(context=context) as workers:
        tally = RunTally()
        generated = generate(context=context, workers=workers, progress=progress, tally=tally)
        scored = score(context=context, generated=generated, workers=workers, progress=progress, tally=tally)
    aggregated = aggregate(context=context, scored=scored, progress=progress, tally=tally)
    result = write(context=context, generated=generated, scored=scored, aggregated=aggregated, tally=tally)

The model is touched only for prompts the cache lacks: the adapter is built first (its identity is cheap
and loads no weights), the whole plan is looked up, and a fully cached rerun never calls ``generate``.
Each finished batch is committed to the cache at once, so an interrupted run (Ctrl-C, SIGKILL, a crashed
node) loses at most one batch and the next run resumes from there. Scores of analyzers that allow it are
cached the same way; before generating, the engine loads exactly the scorers that will have outputs to
score — a broken one stops the run (exit 2) before any generation, and a fully cached rerun loads none.

Failures are counted, never papered over: a failed generation is an error record (not an empty output), a
crashed scorer yields error scores (never 0). When more than ``max_error_rate`` of the generations (or of
the scored outputs) fail, the run still scores and writes what it has, with status ``incomplete``;
:func:`incomplete_error` is the ``ErrorBudgetExceeded`` (exit 3) the caller raises then.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from auditkit.adapters.base import (
    Adapter,
    AdapterAbilities,
    ModelSpec,
    abilities_of,
    build_adapter,
    parse_model_spec,
)
from auditkit.analyzers.base import Analyzer
from auditkit.energy.meter import EnergyMeter, open_meter
from auditkit.engine.analysis import (
    RunTally,
    aggregate_scores,
    analyzer_options,
    build_analyzers,
    prepare_scoring,
    score_outputs,
)
from auditkit.engine.cache import GenerationStore, cache_key, open_cache
from auditkit.engine.executor import (
    AdapterSource,
    Executor,
    GenerationBatch,
    GenerationOutcome,
    LocalExecutor,
)
from auditkit.engine.manifest import build_manifest, utc_now
from auditkit.engine.plan import AuditRequest, Plan, build_plan
from auditkit.engine.progress import Progress
from auditkit.engine.results import (
    OUTPUTS_FILE,
    RESULTS_FILE,
    SCHEMA_VERSION,
    write_json_atomic,
    write_outputs,
)
from auditkit.engine.run_records import (
    Aggregated,
    AuditResult,
    CacheLookup,
    Generated,
    RunContext,
    Scored,
    Workers,
    Written,
)
from auditkit.engine.watch import RequestWatcher, common_errors
from auditkit.errors import ConfigError, ErrorBudgetExceeded, InputError
from auditkit.records import Generation, Score

__all__ = [
    "Aggregated",
    "AuditRequest",
    "AuditResult",
    "CacheLookup",
    "Generated",
    "NOT_GENERATED",
    "RunContext",
    "Scored",
    "Workers",
    "Written",
    "aggregate",
    "check_request",
    "generate",
    "incomplete_error",
    "open_workers",
    "plan_run",
    "score",
    "write",
]

NOT_GENERATED = "not generated: the run stopped before this prompt (error budget exceeded)"
# Below this many attempts a high error fraction may be bad luck; above it, it is evidence enough to stop.
_MIN_ATTEMPTS_TO_STOP = 100


def check_request(*, request: AuditRequest) -> None:
    """Options that would fail the run later: ``ConfigError``/``InputError`` (exit 2) now."""
    if not 0.0 <= request.max_error_rate <= 1.0:
        raise ConfigError(f"--max-error-rate {request.max_error_rate} must lie between 0 and 1.")
    for name in ("samples", "batch_size", "concurrency", "max_new_tokens"):
        value = getattr(request, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {value} must be at least 1.")
    if request.temperature is not None and request.temperature < 0:
        raise ConfigError(f"--temperature {request.temperature} must not be negative.")
    if request.corpus is not None and not Path(request.corpus).is_file():
        raise InputError(f"--corpus {request.corpus}: no such file.")
    if request.executor not in ("local", "ray"):
        raise ConfigError(f"--executor {request.executor!r}: choose 'local' or 'ray'.")
    if request.executor != "ray" and (request.ray_address is not None or request.ray_replicas is not None):
        raise ConfigError("--ray-address and --ray-replicas need --executor ray.")
    if request.ray_replicas is not None and request.ray_replicas < 1:
        raise ConfigError(f"--ray-replicas {request.ray_replicas} must be at least 1.")


def _with_options(request: AuditRequest, spec: ModelSpec) -> tuple[ModelSpec, AdapterAbilities]:
    """``spec`` with the request's model options; ``--concurrency`` only for adapters that take it."""
    abilities = abilities_of(spec=spec)
    options = {**spec.options, **{str(k): str(v) for k, v in request.model_options.items()}}
    if request.concurrency is not None and abilities.concurrency:
        options.setdefault("concurrency", str(request.concurrency))
    return dataclasses.replace(spec, options=options), abilities


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(gen: Generation) -> Generation:
    """``gen`` with lone surrogates replaced by U+FFFD, so it can be written as UTF-8.

    They arrive through JSON escapes (``"\\ud800"`` from a server or a replay file) or user code; as
    they are not text, no file, cache or report can hold them, and one would crash the whole run.
    """
    texts = (gen.output, gen.error, *(gen.tokens or ()))
    if not any(t is not None and _LONE_SURROGATE.search(t) for t in texts):
        return gen

    def fix(text: str | None) -> str | None:
        return None if text is None else _LONE_SURROGATE.sub("\ufffd", text)

    tokens = None if gen.tokens is None else tuple(fix(t) or "" for t in gen.tokens)
    return dataclasses.replace(gen, output=fix(gen.output), error=fix(gen.error), tokens=tokens)


def _batches(plan: Plan, keys: Mapping[str, str], missing: set[str], size: int) -> list[GenerationBatch]:
    """Batches of ``size`` over each config group's uncached prompts, whatever suite they come from: only the
    last batch of a config is partial. Sampled outputs are seeded per prompt, so composition changes nothing."""
    batches: list[GenerationBatch] = []
    for group in plan.groups:
        todo = [p for p in group.prompts if p.id in missing]
        for start in range(0, len(todo), size):
            chunk = tuple(todo[start : start + size])
            batches.append(
                GenerationBatch(
                    index=len(batches),
                    config=group.config,
                    prompts=chunk,
                    keys=tuple(keys[p.id] for p in chunk),
                )
            )
    return batches


def _look_up(
    *,
    plan: Plan,
    adapter: Adapter,
    analyzers: Mapping[str, Analyzer],
    options: Mapping[str, Mapping[str, Any]],
    cache: GenerationStore,
) -> CacheLookup:
    """Look the plan up in the cache, then load the scorers that will have outputs to score."""
    identity_key = adapter.identity.key
    keys = {
        p.id: cache_key(identity_key=identity_key, config=plan.configs[p.id], prompt=p) for p in plan.prompts
    }
    found = cache.get_many(list(keys.values()))
    cached = {pid: found[key] for pid, key in keys.items() if key in found}
    scoring = prepare_scoring(plan=plan, analyzers=analyzers, options=options, cached=cached, store=cache)
    return CacheLookup(keys=keys, cached=cached, scoring=scoring)


def plan_run(*, request: AuditRequest) -> RunContext:
    """Stage 1: plan the prompts, build the adapter (cheap) and analyzers, look the plan up in the cache,
    create the run directory. The caller closes ``context.cache`` when the run is over."""
    created_at, started = utc_now(), time.monotonic()
    parsed = parse_model_spec(spec=request.model)
    plan = build_plan(request=request)
    spec, abilities = _with_options(request, parsed)
    _check_loglik(plan=plan, spec=spec, abilities=abilities)
    adapter = build_adapter(spec=spec)  # cheap: weights load on the first generate
    cache: GenerationStore | None = None
    try:
        analyzers = build_analyzers(plan=plan, identity=adapter.identity, abilities=abilities)
        options = analyzer_options(plan=plan, identity=adapter.identity, abilities=abilities)
        cache = open_cache(path=request.cache_path, enabled=request.use_cache)
        lookup = _look_up(plan=plan, adapter=adapter, analyzers=analyzers, options=options, cache=cache)
        _make_run_dir(Path(request.out))
    except BaseException:
        adapter.close()
        if cache is not None:
            cache.close()
        raise
    return RunContext(
        request=request, spec=spec, abilities=abilities, plan=plan, adapter=adapter, analyzers=analyzers,
        options=options, cache=cache, lookup=lookup, created_at=created_at, started=started,
    )


def _check_loglik(*, plan: Plan, spec: ModelSpec, abilities: AdapterAbilities) -> None:
    """Likelihood benchmarks on an adapter that cannot score continuations: exit 2 before any work."""
    if abilities.loglikelihood:
        return
    needing = sorted({p.suite for p in plan.prompts if p.continuations is not None})
    if needing:
        from auditkit.engine.loglik import needs_loglik_message

        raise ConfigError(needs_loglik_message(benchmarks=needing, adapter=spec.scheme))


def _make_run_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"--out {out}: cannot create the run directory ({exc.strerror}); give a directory path."
        ) from None


@contextmanager
def open_workers(*, context: RunContext, executor: Executor | None = None) -> Iterator[Workers]:
    """The meter and executor for generating and scoring; an executor made here is closed on exit."""
    device = str(context.adapter.identity.settings.get("device", "cpu"))
    meter = open_meter(device=device, energy_source=context.abilities.energy_source,
                       adapter=context.adapter.identity.adapter)
    owned = _make_executor(context.request, meter) if executor is None else None
    try:
        yield Workers(meter=meter, executor=executor if executor is not None else owned)  # type: ignore[arg-type]
    finally:
        close = getattr(owned, "close", None)  # Ray actors, a Ray instance it started
        if close is not None:
            close()


def _make_executor(request: AuditRequest, meter: EnergyMeter) -> Executor:
    if request.executor == "ray":
        from auditkit.engine.ray_executor import RayExecutor

        return RayExecutor(address=request.ray_address, num_replicas=request.ray_replicas)
    return LocalExecutor(meter=meter)


def generate(*, context: RunContext, workers: Workers, progress: Progress, tally: RunTally) -> Generated:
    """Stage 2: generate what the cache lacks, batch by batch, committing each batch to the cache."""
    identity, request = context.adapter.identity, context.request
    progress.log(f"model: {identity.adapter}:{identity.model}")
    if request.concurrency is not None and not context.abilities.concurrency:
        progress.warn(
            f"--concurrency is ignored by the {context.spec.scheme!r} adapter (it generates batch by batch)."
        )
    _warn_unplanned(context=context, progress=progress)
    try:
        generations = _generate_missing(context=context, workers=workers, progress=progress, tally=tally)
    finally:
        context.adapter.close()
    for prompt in context.plan.prompts:
        if prompt.id not in generations:
            generations[prompt.id] = Generation(prompt_id=prompt.id, output=None, error=NOT_GENERATED)
            tally.not_generated += 1
    if tally.stopped or (tally.attempted and tally.errors / tally.attempted > request.max_error_rate):
        # The reasons are otherwise only inside outputs.jsonl: quote the commonest ones.
        why = common_errors(generations=generations.values(), skip=NOT_GENERATED)
        tally.reasons.append(
            f"{tally.errors} of {tally.attempted} generations failed "
            f"(more than --max-error-rate {request.max_error_rate:g})" + (f"; errors: {why}" if why else "")
        )
    return Generated(generations=generations, meter_info=dict(workers.meter.info))


def _warn_unplanned(*, context: RunContext, progress: Progress) -> None:
    """Replay lines for prompts the run does not plan are ignored, but never silently."""
    unused_ids = getattr(context.adapter, "unused_ids", None)
    if not callable(unused_ids):
        return
    unused = list(unused_ids(prompt_ids=[p.id for p in context.plan.prompts]))
    if unused:
        shown = ", ".join(unused[:5]) + (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
        progress.warn(
            f"the replay file has {len(unused)} line(s) for prompts this run does not plan ({shown}); "
            "they are ignored. Was it made for other suites, --samples or --seed? "
            "`auditkit prompts SUITE... -o FILE` lists the planned ids."
        )


def _generate_missing(
    *, context: RunContext, workers: Workers, progress: Progress, tally: RunTally
) -> dict[str, Generation]:
    plan, request, keys = context.plan, context.request, context.lookup.keys
    generations = dict(context.lookup.cached)
    tally.cached = len(generations)
    missing = {p.id for p in plan.prompts} - generations.keys()
    progress.log(
        f"plan: {len(plan.prompts)} prompts, {tally.cached} cached, {len(missing)} to generate, "
        f"analyzers: {', '.join(plan.analyzer_names) or 'none'}"
    )
    if not missing:
        return generations
    size = request.batch_size or int(getattr(context.adapter, "default_batch_size", 8) or 8)
    budget = request.max_error_rate * len(missing)
    task = progress.task(description="generating", total=len(missing))
    listen = getattr(context.adapter, "listen", None)  # remote adapters report each request
    watcher = RequestWatcher(progress=progress, task=task) if callable(listen) else None
    if watcher is not None:
        listen(watcher)  # type: ignore[misc]

    def on_batch(outcome: GenerationOutcome) -> bool:
        batch = [_encodable(g) for g in outcome.generations]
        context.cache.put_many(zip(outcome.batch.keys, batch, strict=True))
        for gen in batch:
            generations[gen.prompt_id] = gen
        failed = sum(1 for g in batch if not g.ok)
        tally.attempted += len(batch)
        tally.errors += failed
        tally.generated += len(batch) - failed
        if watcher is not None:
            watcher.settle(g.prompt_id for g in batch)
        else:
            task.advance(len(batch))
        # Stop once the budget cannot be met any more, or once enough attempts show the rate is exceeded.
        over = tally.errors > budget or (
            tally.attempted >= _MIN_ATTEMPTS_TO_STOP
            and tally.errors / tally.attempted > request.max_error_rate
        )
        if over and tally.attempted < len(missing):
            tally.stopped = True
            progress.warn(
                f"{tally.errors} of {tally.attempted} generations failed "
                f"(> --max-error-rate {request.max_error_rate:g}); stopping generation."
            )
            return False
        return True

    source = AdapterSource(spec=context.spec, local=context.adapter, abilities=context.abilities)
    try:
        workers.executor.generate(adapter=source, batches=_batches(plan, keys, missing, size), on_batch=on_batch)
    finally:
        task.finish()
        if watcher is not None:
            listen(None)  # type: ignore[misc]
            if watcher.summary():
                progress.log(str(watcher.summary()))
    return generations


def score(
    *, context: RunContext, generated: Generated, workers: Workers, progress: Progress, tally: RunTally
) -> Scored:
    """Stage 3: score every output with its analyzers (cached scores looked up first)."""
    items, scores = score_outputs(
        plan=context.plan,
        analyzers=context.analyzers,
        options=context.options,
        generations=dict(generated.generations),
        executor=workers.executor,
        progress=progress,
        tally=tally,
        store=context.cache,
        caching=context.lookup.scoring,
    )
    rate = context.request.max_error_rate
    if tally.scored_items and tally.score_errors / tally.scored_items > rate:
        tally.reasons.append(
            f"{tally.score_errors} of {tally.scored_items} scored outputs failed to score "
            f"(more than --max-error-rate {rate:g})"
        )
    return Scored(items=items, scores=tuple(scores))


def aggregate(*, context: RunContext, scored: Scored, progress: Progress, tally: RunTally) -> Aggregated:
    """Stage 4: metrics and findings from all scores of the run; the run's status."""
    metrics, findings, analyses = aggregate_scores(
        analyzers=context.analyzers, items=scored.items, scores=list(scored.scores), progress=progress,
        tally=tally,
    )
    return Aggregated(
        metrics=tuple(metrics),
        findings=tuple(findings),
        analyses=analyses,
        status="incomplete" if tally.reasons else "complete",
        reason="; ".join(tally.reasons) or None,
    )


def write(
    *, context: RunContext, generated: Generated, scored: Scored, aggregated: Aggregated, tally: RunTally
) -> Written:
    """Stage 5: outputs.jsonl and results.json (``gate`` null: the gate is applied after the engine)."""
    out, plan = context.out, context.plan
    by_prompt: dict[str, list[Score]] = {}
    for item in scored.scores:
        by_prompt.setdefault(item.prompt_id, []).append(item)
    write_outputs(path=out / OUTPUTS_FILE, prompts=plan.prompts, generations=generated.generations, scores=by_prompt)
    del by_prompt
    manifest = build_manifest(
        request=context.request,
        plan=plan,
        identity=context.adapter.identity.to_dict(),
        analyzers=context.analyzers,
        counts=tally.counts(len(plan.prompts)),
        meter_info=dict(generated.meter_info),
        created_at=context.created_at,
        duration_s=time.monotonic() - context.started,
        reason=aggregated.reason,
        scores={"cached": tally.scores_cached, "computed": tally.scores_computed},
    )
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "status": aggregated.status,
        "manifest": manifest,
        "metrics": [m.to_dict() for m in aggregated.metrics],
        "findings": [f.to_dict() for f in aggregated.findings],
        "analyses": aggregated.analyses,
        "gate": None,
    }
    write_json_atomic(path=out / RESULTS_FILE, data=data)
    result = AuditResult(
        run_dir=out,
        status=aggregated.status,
        counts=manifest["counts"],
        metrics=aggregated.metrics,
        findings=aggregated.findings,
        reason=aggregated.reason,
    )
    return Written(result=result, data=data)


def incomplete_error(*, result: AuditResult) -> ErrorBudgetExceeded:
    """The exit-3 error for an incomplete run; its ``result`` attribute holds the partial ``AuditResult``."""
    error = ErrorBudgetExceeded(
        f"The run is incomplete: {result.reason}. Partial results were written to "
        f"{result.results_path}; successful outputs are cached, so a rerun retries "
        "only what failed."
    )
    error.result = result  # type: ignore[attr-defined]
    return error
