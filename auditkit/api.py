"""The public Python API: what ``auditkit run`` does, callable from Python.

Example::

    import auditkit

    result = auditkit.audit(model="mock:biased", suites=["bias"], out="runs/bias")
    print(result.status, len(result.findings))
    again = auditkit.load_results(run_dir="runs/bias")
    print(again.metric(analyzer="bias", name="max_gap"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from auditkit.engine.plan import AuditRequest
from auditkit.engine.results import RunResults
from auditkit.engine.results import load_results as _load_results
from auditkit.engine.run import AuditResult, run_audit
from auditkit.records import Prompt

__all__ = ["AuditRequest", "AuditResult", "RunResults", "audit", "load_results"]


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


def load_results(*, run_dir: str | Path) -> RunResults:
    """Read a run directory's results.json back (``InputError`` naming the file when unreadable)."""
    return _load_results(run_dir=Path(run_dir))
