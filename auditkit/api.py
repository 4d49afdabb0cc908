"""The public Python API: what ``auditkit run`` does, callable from Python.

:func:`run_audit` composes the engine's stages (plan → generate → score → aggregate → write, in
:mod:`auditkit.engine.run`), then the gate (when a policy is given and the run is complete), then the
report; ``auditkit run`` and :func:`audit` both go through it.

Example::

    import auditkit

    result = auditkit.audit(model="mock:biased", suites=["bias"], out="runs/bias")
    print(result.status, len(result.findings))
    again = auditkit.load_results(run_dir="runs/bias")
    print(again.metric(analyzer="bias", name="max_gap"))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from auditkit.engine import run as engine
from auditkit.engine.analysis import RunTally
from auditkit.engine.executor import Executor
from auditkit.engine.plan import AuditRequest
from auditkit.engine.progress import Progress
from auditkit.engine.results import RESULTS_FILE, RunResults, write_json_atomic
from auditkit.engine.results import load_results as _load_results
from auditkit.engine.run_records import AuditResult, Written
from auditkit.errors import ConfigError, InputError
from auditkit.records import Prompt

__all__ = ["AuditRequest", "AuditResult", "RunResults", "audit", "load_results", "run_audit"]


def run_audit(*, request: AuditRequest, executor: Executor | None = None) -> AuditResult:
    """Run one audit and write its run directory: engine stages, then gate, then report.

    ``ErrorBudgetExceeded`` (exit 3) after partial results (and the report) are written; a failed gate
    is ``result.passed is False``, not an exception. ``executor`` replaces the one ``request.executor``
    names (the caller then owns it).
    """
    engine.check_request(request=request)
    _check_gate_inputs(request)
    context = engine.plan_run(request=request)
    try:
        _check_policy_metrics(request, context.plan.analyzer_names, close=context.adapter.close)
        with Progress(quiet=request.quiet) as progress:
            tally = RunTally()
            with engine.open_workers(context=context, executor=executor) as workers:
                generated = engine.generate(context=context, workers=workers, progress=progress, tally=tally)
                scored = engine.score(
                    context=context, generated=generated, workers=workers, progress=progress, tally=tally
                )
            aggregated = engine.aggregate(context=context, scored=scored, progress=progress, tally=tally)
            written = engine.write(
                context=context, generated=generated, scored=scored, aggregated=aggregated, tally=tally
            )
            try:
                result = _gate(request, written)
            except ConfigError:  # e.g. a rule only the results could show to be wrong: keep the report
                if request.report:
                    _render_report(request, written.result, progress)
                raise
            if request.report:
                result = dataclasses.replace(result, report=_render_report(request, result, progress))
            progress.log(
                f"results: {result.results_path} ({result.status}; {len(result.metrics)} metrics, "
                f"{len(result.findings)} findings)"
            )
    finally:
        context.cache.close()
    if result.status != "complete":
        raise engine.incomplete_error(result=result)
    return result


def _check_gate_inputs(request: AuditRequest) -> None:
    """A broken policy or baseline must stop the run now, not after hours of generation."""
    if request.baseline is not None and request.policy is None:
        raise ConfigError("--baseline is used by the gate: give --policy FILE too.")
    if request.policy is not None:
        from auditkit.gate.policy import builtin_policies, load_policy, policy_hint, resolve_policy

        if not resolve_policy(ref=request.policy).is_file():
            raise InputError(
                f"--policy {request.policy}: no such file (nor a built-in policy: "
                f"{', '.join(builtin_policies())}).{policy_hint(ref=str(request.policy))}"
            )
        load_policy(path=resolve_policy(ref=request.policy))
    if request.baseline is not None and not (Path(request.baseline) / RESULTS_FILE).is_file():
        raise InputError(
            f"--baseline {request.baseline}: no {RESULTS_FILE} there; give the --out directory "
            "of an earlier run."
        )


def _check_policy_metrics(request: AuditRequest, analyzers: Sequence[str], *, close: Callable[[], None]) -> None:
    """A policy metric that none of the planned analyzers declares is a typo: exit 2 before generation.

    The same check runs on the results later (``gate.metric_names``); here the planned analyzers stand
    for the run, with the metrics they declare, so hours of generation are not spent first.
    """
    if request.policy is None:
        return
    from auditkit.gate.metric_names import check_rule_metrics
    from auditkit.gate.policy import load_policy, resolve_policy

    planned = {"metrics": [], "analyses": {name: {} for name in analyzers}}
    try:
        check_rule_metrics(policy=load_policy(path=resolve_policy(ref=request.policy)), results=planned)
    except ConfigError:
        close()
        raise


def _gate(request: AuditRequest, written: Written) -> AuditResult:
    """The gate's decision written into results.json, junit.xml and summary.md (complete runs only)."""
    result = written.result
    if request.policy is None or result.status != "complete":
        return result
    from auditkit.gate import evaluate_policy, write_gate_outputs
    from auditkit.gate.policy import resolve_policy

    decision = evaluate_policy(
        results=dict(written.data),
        policy_path=resolve_policy(ref=request.policy),
        baseline_dir=Path(request.baseline) if request.baseline else None,
    )
    write_gate_outputs(decision=decision, run_dir=result.run_dir)  # junit.xml, summary.md, $GITHUB_STEP_SUMMARY
    gate = decision.to_dict()
    write_json_atomic(path=result.results_path, data={**written.data, "gate": gate})
    return dataclasses.replace(result, gate=gate, passed=decision.passed)


def _render_report(request: AuditRequest, result: AuditResult, progress: Progress) -> Path | None:
    from auditkit.report.render import render_report

    try:
        return Path(
            render_report(run_dir=result.run_dir, baseline_dir=Path(request.baseline) if request.baseline else None)
        )
    except Exception as exc:  # the results are written; a report failure must not hide them
        progress.warn(
            f"the HTML report could not be rendered ({type(exc).__name__}: {exc}); "
            f"results are in {result.results_path}; retry with `auditkit report {result.run_dir}`."
        )
        return None


def audit(
    *,
    model: str,
    out: str | Path,
    suites: Sequence[str] = ("standard",),
    prompts: Sequence[Prompt] = (),
    model_args: Mapping[str, str] | None = None,
    analyzer_args: Mapping[str, Mapping[str, Any]] | None = None,
    analyzers: Sequence[str] | None = None,
    samples: int | None = None,
    seed: int | None = None,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    corpus: str | Path | None = None,
    cache: bool = True,
    cache_path: str | Path | None = None,
    max_error_rate: float = 0.1,
    policy: str | Path | None = None,
    baseline: str | Path | None = None,
    report: bool = True,
    quiet: bool = True,
) -> AuditResult:
    """Audit ``model`` on ``suites`` (plus any extra ``prompts``) and write the run directory ``out``.

    Same semantics as the CLI flags of the same names. Raises ``ErrorBudgetExceeded`` when the run is
    incomplete (its ``result`` attribute holds the partial ``AuditResult``; files are written) and
    other ``AuditkitError`` subclasses for bad input. A failed gate is not an exception: check
    ``result.passed`` (or ``result.exit_code``).
    """
    request = AuditRequest(
        model=model,
        out=Path(out),
        suites=tuple(suites),
        prompts=tuple(prompts),
        model_options=dict(model_args or {}),
        analyzer_options={k: dict(v) for k, v in (analyzer_args or {}).items()},
        analyzers=tuple(analyzers) if analyzers is not None else None,
        samples=samples,
        seed=seed,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        batch_size=batch_size,
        concurrency=concurrency,
        corpus=Path(corpus) if corpus is not None else None,
        use_cache=cache,
        cache_path=Path(cache_path) if cache_path is not None else None,
        max_error_rate=max_error_rate,
        policy=Path(policy) if policy is not None else None,
        baseline=Path(baseline) if baseline is not None else None,
        report=report,
        quiet=quiet,
        command=("auditkit.audit", f"model={model}", f"suites={','.join(suites)}"),
    )
    return run_audit(request=request)


def load_results(run_dir: str | Path) -> RunResults:
    """Read a run directory's results.json back (``InputError`` naming the file when unreadable).

    The one public function taking its argument by position too (``load_results("runs/x")`` is what
    everyone types first); ``load_results(run_dir=...)`` works as well."""
    return _load_results(run_dir=Path(run_dir))
