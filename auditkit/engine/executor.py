"""Where generation and scoring batches run: the executor seam.

The engine (the driver) plans batches, decides what is cached, writes the cache and aggregates; an
executor only runs batches and hands each finished one back through ``on_batch`` — in order of
completion, one at a time, on the driver's thread. ``LocalExecutor`` runs everything in this process.

A distributed executor (e.g. Ray) can be added without touching adapters or analyzers. It must:

- construct adapters remotely from ``AdapterSource.spec`` with ``build_adapter(spec=...)`` (``local`` is
  the driver's own instance and is not sent anywhere), and analyzers from ``AnalyzerSource.name`` and
  ``options`` with ``build_analyzer``; remote workers keep them alive across batches;
- wrap every generation batch in an energy meter opened *on the worker* (``open_meter``) and apply
  ``attribute_cost`` there, so energy is measured where the work ran;
- return results to the driver through ``on_batch``: cache writes, counting and the error budget stay in
  the driver (SQLite is a local file; the driver's single writer keeps one transaction per batch);
- stop submitting work once ``on_batch`` returns ``False`` (error budget spent), and let
  ``KeyboardInterrupt`` and ``AdapterError`` propagate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from auditkit.adapters.base import LOCAL, Adapter, AdapterAbilities, ModelSpec, build_adapter
from auditkit.analyzers.base import Analyzer, Observation, build_analyzer
from auditkit.energy.meter import EnergyMeter, Reading
from auditkit.errors import AuditkitError
from auditkit.records import Generation, GenerationConfig, Prompt, Score

__all__ = [
    "AdapterSource",
    "AnalyzerSource",
    "Executor",
    "GenerationBatch",
    "GenerationOutcome",
    "LocalExecutor",
    "ScoreBatch",
    "ScoreOutcome",
    "attribute_cost",
    "failed_generations",
    "generate_batch",
    "score_batch",
]


@dataclass(frozen=True, slots=True)
class AdapterSource:
    """How to get the adapter: ``spec`` for remote construction, ``local`` when already built here."""

    spec: ModelSpec
    local: Adapter | None = field(default=None, compare=False)
    abilities: AdapterAbilities = LOCAL
    """What the adapter's factory declares (remote executors place and meter replicas by it)."""

    def build(self) -> Adapter:
        return self.local if self.local is not None else build_adapter(spec=self.spec)


@dataclass(frozen=True, slots=True)
class AnalyzerSource:
    """How to get an analyzer: ``name`` + ``options`` for remote construction, ``local`` when built here."""

    name: str
    options: Mapping[str, Any]
    local: Analyzer | None = field(default=None, compare=False)

    def build(self) -> Analyzer:
        return self.local if self.local is not None else build_analyzer(name=self.name, options=self.options)


@dataclass(frozen=True, slots=True)
class GenerationBatch:
    """Prompts sharing one config, with their cache keys (same order)."""

    index: int
    config: GenerationConfig
    prompts: tuple[Prompt, ...]
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GenerationOutcome:
    """A finished batch: one generation per prompt (same order), cost already attributed."""

    batch: GenerationBatch
    generations: tuple[Generation, ...]
    reading: Reading


@dataclass(frozen=True, slots=True)
class ScoreBatch:
    index: int
    items: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class ScoreOutcome:
    """A scored batch; ``error`` is set when the scorer raised for the whole batch (``scores`` empty)."""

    batch: ScoreBatch
    scores: tuple[Score, ...]
    error: str | None = None


class Executor(Protocol):
    """Runs generation and scoring batches; see the module docstring for what remote executors owe."""

    def generate(
        self,
        *,
        adapter: AdapterSource,
        batches: Iterable[GenerationBatch],
        on_batch: Callable[[GenerationOutcome], bool],
    ) -> None:
        """Generate each batch; call ``on_batch`` per finished batch; stop when it returns ``False``."""
        ...

    def score(
        self,
        *,
        analyzer: AnalyzerSource,
        batches: Iterable[ScoreBatch],
        on_batch: Callable[[ScoreOutcome], None],
    ) -> None:
        """Score each batch with the analyzer; call ``on_batch`` per finished batch."""
        ...


def failed_generations(*, prompts: Sequence[Prompt], message: str) -> list[Generation]:
    """One error generation per prompt (a batch-level failure charged to each of its prompts)."""
    return [Generation(prompt_id=p.id, output=None, error=message) for p in prompts]


def _checked(prompts: Sequence[Prompt], generations: Sequence[Generation], scheme: str) -> list[Generation]:
    """Enforce the adapter contract (one generation per prompt, same order) instead of misattributing."""
    ids = [p.id for p in prompts]
    if len(generations) != len(prompts) or [g.prompt_id for g in generations] != ids:
        return failed_generations(
            prompts=prompts,
            message=f"adapter {scheme!r} broke its contract: returned {len(generations)} generations "
            f"for {len(prompts)} prompts or in another order",
        )
    return list(generations)


def attribute_cost(*, generations: Sequence[Generation], reading: Reading) -> list[Generation]:
    """Share a batch's joules, CPU and wall time among its successful outputs by output tokens.

    Values an adapter already set (a replay file's provided energy, an API's own latency) are kept.
    Outputs without token counts share equally. Failed generations get no share.
    """
    ok = [g for g in generations if g.ok]
    tokens = [g.output_tokens for g in ok]
    if ok and all(t is not None for t in tokens) and sum(tokens) > 0:  # type: ignore[arg-type]
        total = float(sum(tokens))  # type: ignore[arg-type]
        shares = {id(g): (g.output_tokens or 0) / total for g in ok}
    else:
        shares = {id(g): 1.0 / len(ok) for g in ok}
    out = []
    for gen in generations:
        share = shares.get(id(gen))
        if share is None:
            out.append(gen)
            continue
        changes: dict[str, Any] = {}
        if gen.latency_s is None:
            changes["latency_s"] = reading.wall_s * share
        if gen.cpu_s is None:
            changes["cpu_s"] = reading.cpu_s * share
        if gen.energy_j is None and gen.energy_method is None:
            changes["energy_j"] = reading.joules * share if reading.joules is not None else None
            changes["energy_method"] = reading.method
        elif gen.energy_j is not None and gen.energy_method is None:
            changes["energy_method"] = "provided"
        out.append(dataclasses.replace(gen, **changes) if changes else gen)
    return out


def generate_batch(
    *, model: Adapter, batch: GenerationBatch, meter: EnergyMeter, scheme: str
) -> GenerationOutcome:
    """Generate one batch inside ``meter`` (wherever it runs); ``AuditkitError`` propagates (fatal)."""
    with meter.measure() as reading:
        try:
            raw = _answer(model=model, batch=batch, scheme=scheme)
        except AuditkitError:
            raise  # the model cannot work at all (AdapterError): the user must act
        except Exception as exc:  # one bad batch is charged to the error budget, not fatal
            raw = failed_generations(prompts=batch.prompts, message=f"{type(exc).__name__}: {exc}")
    generations = _checked(batch.prompts, raw, scheme)
    generations = attribute_cost(generations=generations, reading=reading)
    return GenerationOutcome(batch=batch, generations=tuple(generations), reading=reading)


def _answer(*, model: Adapter, batch: GenerationBatch, scheme: str) -> list[Generation]:
    """Generate ordinary prompts; score the candidates of likelihood prompts (``continuations``)."""
    from auditkit.engine.loglik import loglik_generations

    scored = [p for p in batch.prompts if p.continuations is not None]
    if not scored:
        return model.generate(prompts=batch.prompts, config=batch.config)
    if len(scored) == len(batch.prompts):
        return loglik_generations(model=model, prompts=batch.prompts, scheme=scheme)
    plain = [p for p in batch.prompts if p.continuations is None]
    answers = {g.prompt_id: g for g in loglik_generations(model=model, prompts=scored, scheme=scheme)}
    generated = model.generate(prompts=plain, config=batch.config)
    if [g.prompt_id for g in generated] != [p.id for p in plain]:
        return generated  # the contract check downstream reports the broken order
    answers.update((g.prompt_id, g) for g in generated)
    return [answers[p.id] for p in batch.prompts]


def score_batch(*, scorer: Analyzer, batch: ScoreBatch) -> ScoreOutcome:
    """Score one batch; a crashed scorer gives an outcome with ``error`` (never stand-in values)."""
    try:
        return ScoreOutcome(batch=batch, scores=tuple(scorer.score(items=batch.items)))
    except AuditkitError:
        raise
    except Exception as exc:
        return ScoreOutcome(batch=batch, scores=(), error=f"{type(exc).__name__}: {exc}")


class LocalExecutor:
    """Runs batches one after another in this process, each generation batch inside the meter."""

    def __init__(self, *, meter: EnergyMeter) -> None:
        self.meter = meter

    def generate(
        self,
        *,
        adapter: AdapterSource,
        batches: Iterable[GenerationBatch],
        on_batch: Callable[[GenerationOutcome], bool],
    ) -> None:
        model = adapter.build()
        for batch in batches:
            outcome = generate_batch(model=model, batch=batch, meter=self.meter, scheme=adapter.spec.scheme)
            if not on_batch(outcome):
                return

    def score(
        self,
        *,
        analyzer: AnalyzerSource,
        batches: Iterable[ScoreBatch],
        on_batch: Callable[[ScoreOutcome], None],
    ) -> None:
        scorer = analyzer.build()
        for batch in batches:
            on_batch(score_batch(scorer=scorer, batch=batch))
