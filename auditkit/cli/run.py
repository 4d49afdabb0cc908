"""``auditkit run``: audit a model on suites and write results.json, outputs.jsonl and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditkit.cli.app import app
from auditkit.errors import ConfigError, GateFailed

__all__ = ["run_command"]


def _batch_size(value: str) -> int | None:
    if value.strip().lower() == "auto":
        return None
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise ConfigError(f"--batch-size {value!r} must be a positive integer or 'auto'.")
    return size


def _command_line(params: dict[str, object], suites: list[str]) -> list[str]:
    """The invocation, rebuilt from parsed options (canonical spelling; secrets redacted later)."""
    argv = ["auditkit", "run", *suites]
    for name, value in params.items():
        if name == "suites" or value is None or value is False or value == []:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            for item in value:
                argv += [flag, str(item)]
        else:
            argv += [flag, str(value)]
    return argv


@app.command("run")
def run_command(
    suites: Annotated[
        list[str] | None,
        typer.Argument(
            help="Suites: built-in names (`auditkit suites list`) or YAML paths. Default: standard.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model spec: smollm2, hf:ID|DIR, openai:MODEL, "
            "replay:FILE.jsonl, python:MODULE:FACTORY, mock:NAME.",
        ),
    ] = ...,  # type: ignore[assignment]
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run directory for results.json, outputs.jsonl, report.html.")
    ] = ...,  # type: ignore[assignment]
    policy: Annotated[Path | None, typer.Option(help="Gate policy YAML; exit 1 when it fails.")] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="Earlier run directory the policy compares against.")
    ] = None,
    samples: Annotated[int | None, typer.Option(help="Samples per prompt (overrides the suites).")] = None,
    seed: Annotated[int | None, typer.Option(help="Base seed for sampling and statistics.")] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Token limit per output (probes may pin their own).")
    ] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature; 0 = greedy.")] = None,
    batch_size: Annotated[
        str, typer.Option(help="Prompts per model call, or 'auto' (the adapter's default).")
    ] = "auto",
    concurrency: Annotated[int | None, typer.Option(help="Parallel requests (HTTP adapters).")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Reference corpus for memorization prompts.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the generation cache.")
    ] = False,
    cache: Annotated[
        Path | None,
        typer.Option(help="Cache file (default: user cache dir; env AUDITKIT_CACHE_DIR sets the dir)."),
    ] = None,
    model_arg: Annotated[
        list[str] | None, typer.Option("--model-arg", help="Adapter option KEY=VALUE (repeatable).")
    ] = None,
    analyzer_arg: Annotated[
        list[str] | None,
        typer.Option("--analyzer-arg", help="Analyzer option NAME.KEY=VALUE (repeatable)."),
    ] = None,
    analyzers: Annotated[str | None, typer.Option(help="Only these analyzers, comma-separated.")] = None,
    max_error_rate: Annotated[
        float, typer.Option(help="Failed fraction above which the run is incomplete (exit 3).")
    ] = 0.1,
    base_url: Annotated[str | None, typer.Option(help="API base URL (openai: adapter).")] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(help="Env var holding the API key (openai: adapter; default OPENAI_API_KEY)."),
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not render report.html.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    executor: Annotated[
        str, typer.Option(help="Where batches run: local (this process) or ray (needs auditkit-rai[ray]).")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster: auto, ray://HOST:10001 or HOST:6379 (default: start a local Ray)."),
    ] = None,
    ray_replicas: Annotated[
        int | None, typer.Option(help="Ray model replicas / scorer actors (default: per GPU or CPU).")
    ] = None,
) -> None:
    """Audit a model: generate (cached, resumable), score, aggregate, gate, report.

    Exit codes: 0 done or gate passed; 1 gate failed; 2 bad usage, config or input; 3 incomplete.
    """
    params = dict(locals())  # first statement: exactly the parsed options, for the manifest's command line
    from auditkit.adapters.base import parse_model_spec
    from auditkit.api import run_audit
    from auditkit.engine.plan import AuditRequest, parse_analyzer_args

    suite_refs = list(suites or ["standard"])
    options = dict(parse_model_spec(spec=model, model_args=model_arg or ()).options)
    if base_url is not None:
        options["base_url"] = base_url
    if api_key_env is not None:
        options["api_key_env"] = api_key_env
    restrict = None
    if analyzers is not None:
        restrict = tuple(a.strip() for a in analyzers.split(",") if a.strip())
        if not restrict:
            raise ConfigError("--analyzers is empty; name at least one analyzer (e.g. --analyzers toxicity).")
    request = AuditRequest(
        model=model,
        out=out,
        suites=tuple(suite_refs),
        model_options=options,
        analyzer_options=parse_analyzer_args(args=analyzer_arg or ()),
        analyzers=restrict,
        samples=samples,
        seed=seed,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        batch_size=_batch_size(batch_size),
        concurrency=concurrency,
        corpus=corpus,
        use_cache=not no_cache,
        cache_path=cache,
        max_error_rate=max_error_rate,
        policy=policy,
        baseline=baseline,
        report=not no_report,
        quiet=quiet,
        command=tuple(_command_line(params, suite_refs)),
        executor=executor,
        ray_address=ray_address,
        ray_replicas=ray_replicas,
    )
    result = run_audit(request=request)
    if not quiet:
        typer.echo(f"results: {result.results_path}")
        if result.report is not None:
            typer.echo(f"report:  {result.report}")
    if result.passed is False:
        failed = [r for r in (result.gate or {}).get("rules", []) if r["status"] in ("fail", "error")]
        detail = "; ".join(f"{r['id']}: {r['message']}" for r in failed[:5])
        raise GateFailed(
            f"The gate failed ({request.policy})"
            + (f": {detail}" if detail else "")
            + f". Results: {result.results_path}"
        )
