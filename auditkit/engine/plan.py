"""Planning: from an ``AuditRequest`` to the list of prompts, each with its effective decoding config.

Generation config precedence (lowest first): the built-in ``GenerationConfig`` defaults < the suite's
``generation`` < CLI flags (``--max-new-tokens``, ``--seed``, ``--temperature``) < the probe's
``generation`` pins. Pins win over the CLI on purpose: a probe pins what its metric needs (memorization is
defined on greedy 50-token continuations), and a global flag must not silently redefine the metric.

Adapters receive batches that share one config, so the plan groups prompts by their effective config —
by value, across suites: prompts of different suites that decode alike share one group, so the engine's
batches are full and only the last batch of each config is partial (tests/test_engine_batches.py).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.errors import ConfigError
from auditkit.records import GenerationConfig, Prompt

if TYPE_CHECKING:
    from auditkit.sources import LoadedSource

__all__ = [
    "AuditRequest",
    "ConfigGroup",
    "Plan",
    "SuiteEntry",
    "build_plan",
    "parse_analyzer_args",
    "resolve_generation",
]

_GENERATION_FIELDS = frozenset(f.name for f in dataclasses.fields(GenerationConfig))


@dataclass(frozen=True, slots=True)
class AuditRequest:
    """Everything one audit needs; the CLI and ``auditkit.audit`` both build one."""

    model: str
    """Model spec, e.g. ``smollm2``, ``hf:gpt2``, ``mock:echo``, ``replay:outputs.jsonl``."""
    out: Path
    """Run directory for results.json, outputs.jsonl and report.html (created if missing)."""
    suites: tuple[str, ...] = ("standard",)
    """Prompt-source references: built-in suite names, YAML paths, ``rtp:FILE``... (``auditkit.sources``)."""
    prompts: tuple[Prompt, ...] = ()
    """Extra prompts audited alongside the suites' (Python API; each names its analyzers)."""
    model_options: Mapping[str, str] = field(default_factory=dict)
    """``--model-arg KEY=VALUE`` options for the adapter factory."""
    analyzer_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """``--analyzer-arg NAME.KEY=VALUE`` overrides, by analyzer name; they win over suite options."""
    analyzers: tuple[str, ...] | None = None
    """Restrict the run to these analyzers (``None``: every analyzer the suites name)."""
    samples: int | None = None
    """Samples per prompt, overriding the suites' ``samples``."""
    seed: int | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    batch_size: int | None = None
    """Prompts per adapter call; ``None``: the adapter's ``default_batch_size`` (``--batch-size auto``)."""
    concurrency: int | None = None
    """Passed to the adapter as option ``concurrency`` (HTTP adapters run that many requests at once)."""
    corpus: Path | None = None
    """Reference corpus for memorization prompts (``--corpus``)."""
    use_cache: bool = True
    cache_path: Path | None = None
    """SQLite cache file; ``None`` means ``default_cache_path()``."""
    max_error_rate: float = 0.1
    """Fraction of failed generations (or scores) above which the run is incomplete (exit 3)."""
    policy: Path | None = None
    baseline: Path | None = None
    report: bool = True
    """Render report.html at the end."""
    quiet: bool = False
    command: tuple[str, ...] = ()
    """The command line, for the manifest (secrets are redacted before writing)."""
    executor: str = "local"
    """Where batches run: ``local`` (this process) or ``ray`` (a Ray cluster; ``pip install auditkit-rai[ray]``)."""
    ray_address: str | None = None
    """``--ray-address``: ``auto``, ``ray://host:10001`` or ``host:6379``; ``None`` starts a local Ray."""
    ray_replicas: int | None = None
    """``--ray-replicas``: model replicas / scorer actors; ``None``: one per GPU (local models) or CPU slot."""


@dataclass(frozen=True, slots=True)
class SuiteEntry:
    """A suite as recorded in the manifest."""

    id: str
    version: int | None
    hash: str | None
    source: str
    prompts: int


@dataclass(frozen=True, slots=True)
class ConfigGroup:
    """Prompts that share one effective decoding config (one adapter call per batch of them)."""

    config: GenerationConfig
    prompts: tuple[Prompt, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What will be generated and scored."""

    prompts: tuple[Prompt, ...]
    configs: Mapping[str, GenerationConfig]
    """Effective config by prompt id."""
    groups: tuple[ConfigGroup, ...]
    suites: tuple[SuiteEntry, ...]
    analyzer_names: tuple[str, ...]
    analyzer_options: Mapping[str, Mapping[str, Any]]
    generation: GenerationConfig
    """The run-level config (defaults < first suite's ``generation`` < CLI flags), before probe pins."""


def _check_generation(values: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    unknown = sorted(set(values) - _GENERATION_FIELDS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown generation setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_GENERATION_FIELDS))}."
        )
    return dict(values)


def resolve_generation(
    *,
    suite: Mapping[str, Any] | None = None,
    cli: Mapping[str, Any] | None = None,
    pins: Mapping[str, Any] | None = None,
    where: str = "generation",
) -> GenerationConfig:
    """Built-in defaults < ``suite`` < ``cli`` < ``pins`` (a probe's pins win: its metric needs them)."""
    merged: dict[str, Any] = {}
    for layer, name in ((suite, "suite generation"), (cli, "command line"), (pins, "probe generation")):
        merged.update(_check_generation(layer or {}, where=f"{where} ({name})"))
    try:
        config = GenerationConfig.from_dict(merged)
        if config.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if config.temperature < 0:
            raise ValueError("temperature must not be negative")
        if not 0 < config.top_p <= 1:
            raise ValueError("top_p must lie in (0, 1]")
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: invalid generation settings {merged}: {exc}.") from None
    return config


def parse_analyzer_args(*, args: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["toxicity.threshold=0.4"]`` → ``{"toxicity": {"threshold": 0.4}}`` (values read as YAML scalars)."""
    import yaml

    parsed: dict[str, dict[str, Any]] = {}
    for arg in args:
        target, sep, raw = arg.partition("=")
        name, dot, key = target.strip().partition(".")
        if not sep or not dot or not name or not key:
            raise ConfigError(
                f"--analyzer-arg {arg!r} is not NAME.KEY=VALUE (e.g. --analyzer-arg toxicity.threshold=0.4)."
            )
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)) or value is None:
            value = raw  # keep structure-looking text literal; options are scalars
        parsed.setdefault(name, {})[key.strip()] = value
    return parsed


def _check_analyzer_args(*, request: AuditRequest, running: Sequence[str]) -> None:
    """An option for an analyzer that does not exist, or does not run, would be ignored: refuse it."""
    from auditkit.analyzers.base import analyzers

    for name, options in request.analyzer_options.items():
        if name in running:
            continue
        example = f"--analyzer-arg {name}.{next(iter(options), 'KEY')}"
        here = f"Analyzers in this run: {', '.join(running) or 'none'}"
        if name not in analyzers:
            close = difflib.get_close_matches(name, [*running, *analyzers.names()], n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{example}: there is no analyzer named {name!r}{hint}. {here}; registered: "
                f"{', '.join(analyzers.names())}."
            )
        raise ConfigError(
            f"{example}: the {name!r} analyzer does not run in this audit, so the option would be ignored. "
            f"{here}; add a suite that uses {name!r} or drop the option."
        )


def _cli_generation(request: AuditRequest) -> dict[str, Any]:
    flags = {
        "max_new_tokens": request.max_new_tokens,
        "seed": request.seed,
        "temperature": request.temperature,
    }
    return {k: v for k, v in flags.items() if v is not None}


def _load_sources(request: AuditRequest) -> list[LoadedSource]:
    """Every prompt source of the request: its suite references, then ``--corpus FILE`` as ``corpus:FILE``."""
    from auditkit.adapters.base import abilities_of, parse_model_spec
    from auditkit.sources import load_sources

    refs = [*request.suites, *([f"corpus:{request.corpus}"] if request.corpus is not None else [])]
    if not refs:
        return []
    # Read from the factory's declaration (cheap, nothing built): sources such as bbq: pick their mode by it.
    # A bad model spec is plan_run's to report (it parses the spec first); planning alone sees "unknown".
    try:
        loglikelihood: bool | None = abilities_of(spec=parse_model_spec(spec=request.model)).loglikelihood
    except ConfigError:
        loglikelihood = None
    return load_sources(refs=refs, samples=request.samples, analyzer_options=request.analyzer_options,
                        loglikelihood=loglikelihood)


def build_plan(*, request: AuditRequest) -> Plan:
    """Load and expand suites, add corpus and extra prompts, resolve every prompt's decoding config."""
    if not request.suites and not request.prompts and request.corpus is None:
        raise ConfigError("Nothing to audit: give at least one suite (e.g. 'standard').")
    loaded = _load_sources(request)

    analyzer_options: dict[str, dict[str, Any]] = {}
    for source in loaded:
        for name, options in source.analyzer_options.items():
            analyzer_options.setdefault(name, {}).update(dict(options or {}))
    for name, options in request.analyzer_options.items():
        analyzer_options.setdefault(name, {}).update(dict(options))

    cli = _cli_generation(request)
    entries: list[tuple[SuiteEntry, list[str]]] = []
    prompts: list[Prompt] = []
    configs: dict[str, GenerationConfig] = {}

    # Prompts of one suite with the same pins share one (frozen) config: resolving it per prompt was a
    # tenth of planning a 100k-prompt run.
    resolved: dict[tuple[int, str, tuple[tuple[str, str], ...]], GenerationConfig] = {}

    def add(batch: Sequence[Prompt], source: LoadedSource | None, where: str) -> list[str]:
        """``source`` is the loaded source the batch came from, or None (API prompts)."""
        added: list[str] = []
        for prompt in batch:
            if prompt.id in configs:  # the same prompt reached twice (e.g. two suites include one)
                continue
            key = (id(source), prompt.suite, tuple(sorted((k, repr(v)) for k, v in prompt.generation.items())))
            if key not in resolved:
                # Each prompt takes the defaults of the suite it comes from, even when included elsewhere.
                defaults = {} if source is None else source.generation_for(suite_id=prompt.suite)
                resolved[key] = resolve_generation(
                    suite=defaults,
                    cli=cli,
                    pins=prompt.generation,
                    where=f"{where}, probe {prompt.template!r}",
                )
            configs[prompt.id] = resolved[key]
            prompts.append(prompt)
            added.append(prompt.id)
        return added

    for source in loaded:
        ids = add(source.prompts, source, f"suite {source.id!r} ({source.source})")
        entry = SuiteEntry(id=source.id, version=source.version, hash=source.hash, source=source.source, prompts=0)
        entries.append((entry, ids))
    if request.prompts:
        ids = add(request.prompts, None, "extra prompts")
        entries.append(
            (SuiteEntry(id="prompts", version=None, hash=None, source="python api", prompts=0), ids)
        )

    available = sorted({name for p in prompts for name in p.analyzers})
    _check_analyzer_args(request=request, running=request.analyzers or available)
    if request.analyzers is not None:
        wanted = list(dict.fromkeys(request.analyzers))
        unknown = [a for a in wanted if a not in available]
        if unknown:
            raise ConfigError(
                f"--analyzers {','.join(unknown)}: not used by the selected suites; "
                f"available here: {', '.join(available) or 'none'}."
            )
        keep = set(wanted)
        restricted = []
        for prompt in prompts:
            names = tuple(a for a in prompt.analyzers if a in keep)
            if names:
                restricted.append(dataclasses.replace(prompt, analyzers=names))
        prompts = restricted
        configs = {p.id: configs[p.id] for p in prompts}
        available = sorted(keep)
    if not prompts:
        raise ConfigError("The selected suites expand to no prompts; nothing to audit.")

    by_config: dict[GenerationConfig, list[Prompt]] = {}
    for prompt in prompts:
        by_config.setdefault(configs[prompt.id], []).append(prompt)
    first_generation = dict(loaded[0].generation) if loaded else {}
    return Plan(
        prompts=tuple(prompts),
        configs=configs,
        groups=tuple(ConfigGroup(config=c, prompts=tuple(ps)) for c, ps in by_config.items()),
        # counted after the --analyzers restriction: the manifest says what actually ran
        suites=tuple(
            dataclasses.replace(e, prompts=sum(1 for i in ids if i in configs)) for e, ids in entries
        ),
        analyzer_names=tuple(available),
        analyzer_options={name: analyzer_options.get(name, {}) for name in available},
        generation=resolve_generation(suite=first_generation, cli=cli, where="run generation"),
    )
