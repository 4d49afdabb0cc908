"""One audit, end to end: plan → generate (batched, cached, resumable) → score → aggregate → write.

The model is touched only for prompts the cache lacks: the adapter is built first (its identity is cheap
and loads no weights), the whole plan is looked up, and a fully cached rerun never calls ``generate``.
Each finished batch is committed to the cache at once, so an interrupted run (Ctrl-C, SIGKILL, a crashed
node) loses at most one batch and the next run resumes from there. Scores of analyzers that allow it are
cached the same way; before generating, the engine loads exactly the scorers that will have outputs to
score — a broken one stops the run (exit 2) before any generation, and a fully cached rerun loads none.

Failures are counted, never papered over: a failed generation is an error record (not an empty output), a
crashed scorer yields error scores (never 0). When more than ``max_error_rate`` of the generations (or of
the scored outputs) fail, the run still scores and writes what it has, with status ``incomplete``, and
raises ``ErrorBudgetExceeded`` (exit 3).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditkit.adapters.base import Adapter, ModelSpec, build_adapter, parse_model_spec
from auditkit.analyzers.base import Analyzer
from auditkit.energy.meter import open_meter
from auditkit.engine.analysis import (
    RunTally,
    ScoreCachePlan,
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
from auditkit.errors import ConfigError, ErrorBudgetExceeded, InputError
from auditkit.records import Finding, Generation, Metric, Score

__all__ = ["AuditRequest", "AuditResult", "run_audit"]

NOT_GENERATED = "not generated: the run stopped before this prompt (error budget exceeded)"
# Below this many attempts a high error fraction may be bad luck; above it, it is evidence enough to stop.
_MIN_ATTEMPTS_TO_STOP = 100
# Adapters that run requests in parallel and take a ``concurrency`` option; others validate their options
# strictly and run one batch at a time, so ``--concurrency`` is reported as ignored for them.
_CONCURRENT_SCHEMES = frozenset({"openai"})


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


def _check_request(request: AuditRequest) -> None:
    if not 0.0 <= request.max_error_rate <= 1.0:
        raise ConfigError(f"--max-error-rate {request.max_error_rate} must lie between 0 and 1.")
    for name in ("samples", "batch_size", "concurrency", "max_new_tokens"):
        value = getattr(request, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {value} must be at least 1.")
    if request.temperature is not None and request.temperature < 0:
        raise ConfigError(f"--temperature {request.temperature} must not be negative.")
    if request.baseline is not None and request.policy is None:
        raise ConfigError("--baseline is used by the gate: give --policy FILE too.")
    if request.policy is not None:
        from auditkit.gate.policy import load_policy, resolve_policy

        if not resolve_policy(ref=request.policy).is_file():
            raise InputError(
                f"--policy {request.policy}: no such file (nor a built-in policy: release, ci-regression)."
            )
        # A broken policy must stop the run now, not after hours of generation.
        load_policy(path=resolve_policy(ref=request.policy))
    if request.baseline is not None and not (Path(request.baseline) / RESULTS_FILE).is_file():
        raise InputError(
            f"--baseline {request.baseline}: no {RESULTS_FILE} there; give the --out directory "
            "of an earlier run."
        )
    if request.corpus is not None and not Path(request.corpus).is_file():
        raise InputError(f"--corpus {request.corpus}: no such file.")
    if request.executor not in ("local", "ray"):
        raise ConfigError(f"--executor {request.executor!r}: choose 'local' or 'ray'.")
    if request.executor != "ray" and (request.ray_address is not None or request.ray_replicas is not None):
        raise ConfigError("--ray-address and --ray-replicas need --executor ray.")
    if request.ray_replicas is not None and request.ray_replicas < 1:
        raise ConfigError(f"--ray-replicas {request.ray_replicas} must be at least 1.")


def _model_spec(request: AuditRequest) -> ModelSpec:
    spec = parse_model_spec(spec=request.model)
    options = {**spec.options, **{str(k): str(v) for k, v in request.model_options.items()}}
    if request.concurrency is not None and spec.scheme in _CONCURRENT_SCHEMES:
        options.setdefault("concurrency", str(request.concurrency))
    return dataclasses.replace(spec, options=options)


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


@dataclass(frozen=True, slots=True)
class _Lookup:
    """What the cache already holds for this run, found before anything is generated."""

    keys: Mapping[str, str]
    """Generation cache key per prompt id."""
    cached: Mapping[str, Generation]
    """Cached generations per prompt id."""
    scoring: ScoreCachePlan


def _look_up(
    *,
    plan: Plan,
    adapter: Adapter,
    analyzers: Mapping[str, Analyzer],
    options: Mapping[str, Mapping[str, Any]],
    cache: GenerationStore,
) -> _Lookup:
    """Look the plan up in the cache, then load the scorers that will have outputs to score."""
    identity_key = adapter.identity.key
    keys = {
        p.id: cache_key(identity_key=identity_key, config=plan.configs[p.id], prompt=p) for p in plan.prompts
    }
    found = cache.get_many(list(keys.values()))
    cached = {pid: found[key] for pid, key in keys.items() if key in found}
    scoring = prepare_scoring(plan=plan, analyzers=analyzers, options=options, cached=cached, store=cache)
    return _Lookup(keys=keys, cached=cached, scoring=scoring)


def _generate(
    *,
    request: AuditRequest,
    plan: Plan,
    spec: ModelSpec,
    adapter: Adapter,
    executor: Executor,
    progress: Progress,
    tally: RunTally,
    cache: GenerationStore,
    lookup: _Lookup,
) -> dict[str, Generation]:
    keys = lookup.keys
    generations = dict(lookup.cached)
    tally.cached = len(generations)
    missing = {p.id for p in plan.prompts} - generations.keys()
    progress.log(
        f"plan: {len(plan.prompts)} prompts, {tally.cached} cached, {len(missing)} to generate, "
        f"analyzers: {', '.join(plan.analyzer_names) or 'none'}"
    )
    if not missing:
        return generations
    size = request.batch_size or int(getattr(adapter, "default_batch_size", 8) or 8)
    batches = _batches(plan, keys, missing, size)
    budget = request.max_error_rate * len(missing)
    task = progress.task(description="generating", total=len(missing))

    def on_batch(outcome: GenerationOutcome) -> bool:
        batch = [_encodable(g) for g in outcome.generations]
        cache.put_many(zip(outcome.batch.keys, batch, strict=True))
        for gen in batch:
            generations[gen.prompt_id] = gen
        failed = sum(1 for g in batch if not g.ok)
        tally.attempted += len(batch)
        tally.errors += failed
        tally.generated += len(batch) - failed
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

    try:
        executor.generate(
            adapter=AdapterSource(spec=spec, local=adapter), batches=batches, on_batch=on_batch
        )
    finally:
        task.finish()
    return generations


def _gate(request: AuditRequest, data: dict[str, Any], run_dir: Path) -> tuple[dict[str, Any], bool]:
    from auditkit.gate import evaluate_policy, write_gate_outputs
    from auditkit.gate.policy import resolve_policy

    decision = evaluate_policy(
        results=data,
        policy_path=resolve_policy(ref=request.policy),  # type: ignore[arg-type]
        baseline_dir=Path(request.baseline) if request.baseline else None,
    )
    write_gate_outputs(decision=decision, run_dir=run_dir)  # junit.xml, summary.md, $GITHUB_STEP_SUMMARY
    return decision.to_dict(), decision.passed


def _render_report(run_dir: Path, baseline: Path | None, progress: Progress) -> Path | None:
    from auditkit.report.render import render_report

    try:
        return Path(render_report(run_dir=run_dir, baseline_dir=baseline))
    except Exception as exc:  # the results are written; a report failure must not hide them
        progress.warn(
            f"the HTML report could not be rendered ({type(exc).__name__}: {exc}); "
            f"results are in {run_dir / RESULTS_FILE}; retry with `auditkit report {run_dir}`."
        )
        return None


def _make_executor(request: AuditRequest, meter: Any) -> Executor:
    if request.executor == "ray":
        from auditkit.engine.ray_executor import RayExecutor

        return RayExecutor(address=request.ray_address, num_replicas=request.ray_replicas)
    return LocalExecutor(meter=meter)


def _close_executor(executor: Executor | None) -> None:
    """Release what an executor built for this run holds (Ray actors, a Ray instance it started)."""
    close = getattr(executor, "close", None)
    if close is not None:
        close()


def run_audit(*, request: AuditRequest, executor: Executor | None = None) -> AuditResult:
    """Run one audit and write its run directory; ``ErrorBudgetExceeded`` (exit 3) after partial results."""
    created_at, started = utc_now(), time.monotonic()
    _check_request(request)
    spec = _model_spec(request)
    plan = build_plan(request=request)
    adapter = build_adapter(spec=spec)  # cheap: weights load on the first generate
    identity = adapter.identity
    cache: GenerationStore | None = None
    try:
        analyzers = build_analyzers(plan=plan, identity=identity)
        options = analyzer_options(plan=plan, identity=identity)
        cache = open_cache(path=request.cache_path, enabled=request.use_cache)
        lookup = _look_up(plan=plan, adapter=adapter, analyzers=analyzers, options=options, cache=cache)
    except BaseException:
        adapter.close()
        if cache is not None:
            cache.close()
        raise
    try:
        return _run(
            request=request,
            spec=spec,
            plan=plan,
            adapter=adapter,
            analyzers=analyzers,
            options=options,
            cache=cache,
            lookup=lookup,
            created_at=created_at,
            started=started,
            executor=executor,
        )
    finally:
        cache.close()


def _run(
    *,
    request: AuditRequest,
    spec: ModelSpec,
    plan: Plan,
    adapter: Adapter,
    analyzers: Mapping[str, Analyzer],
    options: Mapping[str, Mapping[str, Any]],
    cache: GenerationStore,
    lookup: _Lookup,
    created_at: str,
    started: float,
    executor: Executor | None,
) -> AuditResult:
    identity = adapter.identity
    out = Path(request.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        adapter.close()
        raise ConfigError(
            f"--out {out}: cannot create the run directory ({exc.strerror}); give a directory path."
        ) from None
    tally = RunTally()

    with Progress(quiet=request.quiet) as progress:
        meter = open_meter(device=str(identity.settings.get("device", "cpu")), adapter=identity.adapter)
        runner = executor if executor is not None else _make_executor(request, meter)
        owned = runner if executor is None else None
        progress.log(f"model: {identity.adapter}:{identity.model}")
        if request.concurrency is not None and spec.scheme not in _CONCURRENT_SCHEMES:
            progress.warn(
                f"--concurrency is ignored by the {spec.scheme!r} adapter (it generates batch by batch)."
            )
        try:
            generations = _generate(
                request=request,
                plan=plan,
                spec=spec,
                adapter=adapter,
                executor=runner,
                progress=progress,
                tally=tally,
                cache=cache,
                lookup=lookup,
            )
        except BaseException:
            _close_executor(owned)
            raise
        finally:
            adapter.close()
        for prompt in plan.prompts:
            if prompt.id not in generations:
                generations[prompt.id] = Generation(prompt_id=prompt.id, output=None, error=NOT_GENERATED)
                tally.not_generated += 1
        if tally.stopped or (tally.attempted and tally.errors / tally.attempted > request.max_error_rate):
            tally.reasons.append(
                f"{tally.errors} of {tally.attempted} generations failed "
                f"(more than --max-error-rate {request.max_error_rate:g})"
            )

        try:
            items, scores = score_outputs(
                plan=plan,
                analyzers=analyzers,
                options=options,
                generations=generations,
                executor=runner,
                progress=progress,
                tally=tally,
                store=cache,
                caching=lookup.scoring,
            )
        finally:
            _close_executor(owned)
        if tally.scored_items and tally.score_errors / tally.scored_items > request.max_error_rate:
            tally.reasons.append(
                f"{tally.score_errors} of {tally.scored_items} scored outputs failed to score "
                f"(more than --max-error-rate {request.max_error_rate:g})"
            )
        metrics, findings, analyses = aggregate_scores(
            analyzers=analyzers, items=items, scores=scores, progress=progress, tally=tally
        )
        status = "incomplete" if tally.reasons else "complete"
        reason = "; ".join(tally.reasons) or None

        by_prompt: dict[str, list[Score]] = {}
        for score in scores:
            by_prompt.setdefault(score.prompt_id, []).append(score)
        write_outputs(
            path=out / OUTPUTS_FILE, prompts=plan.prompts, generations=generations, scores=by_prompt
        )
        del by_prompt

        manifest = build_manifest(
            request=request,
            plan=plan,
            identity=identity.to_dict(),
            analyzers=analyzers,
            counts=tally.counts(len(plan.prompts)),
            meter_info=dict(meter.info),
            created_at=created_at,
            duration_s=time.monotonic() - started,
            reason=reason,
            scores={"cached": tally.scores_cached, "computed": tally.scores_computed},
        )
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "status": status,
            "manifest": manifest,
            "metrics": [m.to_dict() for m in metrics],
            "findings": [f.to_dict() for f in findings],
            "analyses": analyses,
            "gate": None,
        }
        write_json_atomic(path=out / RESULTS_FILE, data=data)

        gate, passed = None, None
        if request.policy is not None and status == "complete":
            gate, passed = _gate(request, data, out)
            data["gate"] = gate
            write_json_atomic(path=out / RESULTS_FILE, data=data)
        report = (
            _render_report(out, Path(request.baseline) if request.baseline else None, progress)
            if request.report
            else None
        )
        progress.log(
            f"results: {out / RESULTS_FILE} ({status}; {len(metrics)} metrics, {len(findings)} findings)"
        )

    result = AuditResult(
        run_dir=out,
        status=status,
        counts=manifest["counts"],
        metrics=tuple(metrics),
        findings=tuple(findings),
        gate=gate,
        passed=passed,
        report=report,
        reason=reason,
    )
    if status != "complete":
        error = ErrorBudgetExceeded(
            f"The run is incomplete: {reason}. Partial results were written to "
            f"{out / RESULTS_FILE}; successful outputs are cached, so a rerun retries "
            "only what failed."
        )
        error.result = result  # type: ignore[attr-defined]
        raise error
    return result
