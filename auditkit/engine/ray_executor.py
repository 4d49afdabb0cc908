"""Run generation and scoring batches on a Ray cluster (``--executor ray``; ``pip install auditkit-rai[ray]``).

The driver (``run_audit``) stays in charge of everything stateful: it plans the batches, looks up and
writes the SQLite cache, counts errors and aggregates. This executor only moves batches to Ray actors and
hands each finished batch back through ``on_batch``, on the driver's thread, in order of completion — so
the cache is written per batch exactly as with ``LocalExecutor``, and an interrupted Ray run resumes
without regenerating finished work.

Design choices (and why):

- **Replicas are actors built from the model spec** (``build_adapter(spec=...)`` inside the worker): a
  loaded model is never pickled. Each replica checks that its adapter identity equals the driver's, since
  the cache keys were computed from the driver's (a worker with other weights or versions would poison
  the cache). Default count: one per GPU for local models when the cluster has GPUs, else one per CPU
  slot (``num_cpus`` each); never more than there are batches.
- **Back-pressure** with ``ray.wait``: each replica has at most ``max_in_flight`` batches queued (one
  running, one waiting so it never idles); the next batch goes to the replica that just finished.
- **Energy is measured where the work ran**: each replica opens its own meter and attributes the
  batch's cost before sending it back.
- **A global concurrency limit for HTTP endpoints** (``openai:`` against vLLM, Ollama...): the run's
  ``concurrency`` (``--concurrency``, default 8) is *divided* among the replicas (shares sum exactly to
  it, and there are never more replicas than requests allowed), and each replica's adapter enforces its
  share with its own semaphore. No per-request round trip to a coordinator actor is needed, and the
  shared endpoint never sees more than ``concurrency`` requests at once.
- **Scoring** runs on analyzer actors built from the analyzer's name and options in each worker; several
  scoring batches travel in one Ray task (``score_items_per_task``) so per-task overhead stays small
  next to cheap scorers. ``aggregate`` stays in the driver.
- **Replay** (``replay:``) generates nothing, and its file may exist only on the driver's machine: its
  "generation" is read in the driver; its scoring is distributed like any other.
- A replica that dies (OOM, node lost) charges its in-flight batches to the error budget as failed
  generations (retried by the next run, like any failure); Ray restarts it (``max_restarts``) for the
  batches that follow. ``AuditkitError`` raised by an adapter or analyzer (e.g. ``AdapterError``: the
  model cannot load at all) stops the run in the driver, as locally.

Plugins registered in code (not through entry points) are made known to workers by importing the module
that defines their factory before building; that module must be importable on the workers (an installed
package, or Ray's ``runtime_env`` ``working_dir`` / ``py_modules``).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from auditkit.adapters.base import ModelSpec, adapters, build_adapter
from auditkit.analyzers.base import analyzers, build_analyzer
from auditkit.energy.meter import Reading, open_meter
from auditkit.engine.executor import (
    AdapterSource,
    AnalyzerSource,
    GenerationBatch,
    GenerationOutcome,
    LocalExecutor,
    ScoreBatch,
    ScoreOutcome,
    failed_generations,
    generate_batch,
    score_batch,
)
from auditkit.errors import AuditkitError, ConfigError

__all__ = ["DEFAULT_HTTP_CONCURRENCY", "RayExecutor", "split_concurrency"]

DEFAULT_HTTP_CONCURRENCY = 8
"""The ``openai`` adapter's own default ``concurrency``, divided among replicas when none is given."""


def split_concurrency(*, total: int, replicas: int) -> list[int]:
    """Shares of a global request limit: ``min(total, replicas)`` positive shares summing to ``total``."""
    count = max(1, min(total, replicas))
    return [total // count + (1 if i < total % count else 0) for i in range(count)]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray, which is not installed. Install it with "
            "`pip install 'auditkit-rai[ray]'`, or run with --executor local."
        ) from None
    return ray


def _plugin_module(factory: Callable[..., Any]) -> str | None:
    """The module whose import registers ``factory`` (``None`` when workers cannot import it)."""
    module = getattr(factory, "__module__", None)
    return module if module and module != "__main__" else None


def _import_plugins(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)


class _GenerationReplica:
    """A model replica living in a Ray worker: builds the adapter once, generates batch after batch."""

    def __init__(self, spec: ModelSpec, modules: Sequence[str], identity_key: str, energy_source: str) -> None:
        self._failure: BaseException | None = None
        try:
            _import_plugins(modules)
            self.spec = spec
            self.model = build_adapter(spec=spec)
            if self.model.identity.key != identity_key:
                raise ConfigError(
                    f"A Ray replica of {spec.scheme}:{spec.target} reports another model identity than "
                    f"the driver ({self.model.identity.to_dict()}): the workers have other weights, "
                    "revision or package versions. Give every node the same environment."
                )
            device = str(self.model.identity.settings.get("device", "cpu"))
            self.meter = open_meter(device=device, energy_source=energy_source, adapter=spec.scheme)
        except BaseException as exc:  # reported by ready(): the driver raises it as the user's error
            self._failure = exc

    def ready(self) -> BaseException | None:
        return self._failure

    def run(self, batch: GenerationBatch) -> GenerationOutcome | AuditkitError:
        try:
            return generate_batch(model=self.model, batch=batch, meter=self.meter, scheme=self.spec.scheme)
        except AuditkitError as exc:  # fatal for the run: returned, so the driver re-raises it as is
            return exc

    def close(self) -> None:
        if self._failure is None:
            self.model.close()


class _ScoringReplica:
    """An analyzer living in a Ray worker, built from its registered name and options."""

    def __init__(self, name: str, options: Mapping[str, Any], modules: Sequence[str]) -> None:
        self._failure: BaseException | None = None
        try:
            _import_plugins(modules)
            self.scorer = build_analyzer(name=name, options=options)
        except BaseException as exc:
            self._failure = exc

    def ready(self) -> BaseException | None:
        return self._failure

    def run(self, batches: Sequence[ScoreBatch]) -> list[ScoreOutcome] | AuditkitError:
        try:
            return [score_batch(scorer=self.scorer, batch=batch) for batch in batches]
        except AuditkitError as exc:
            return exc


def _chunks(batches: Iterable[ScoreBatch], *, items: int) -> Iterator[list[ScoreBatch]]:
    """Group consecutive scoring batches until a task carries at least ``items`` outputs."""
    chunk: list[ScoreBatch] = []
    size = 0
    for batch in batches:
        chunk.append(batch)
        size += len(batch.items)
        if size >= items:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class RayExecutor:
    """Shards generation over model-replica actors and scoring over analyzer actors on a Ray cluster.

    ``address``: ``None`` connects to an already initialised Ray (``ray.init`` in this process) or to
    ``$RAY_ADDRESS``, else starts a local instance (dashboard off, bound to 127.0.0.1) and shuts it down
    in ``close()``; ``"auto"`` joins the cluster this machine belongs to; ``"ray://host:10001"`` uses Ray
    Client. ``num_replicas``: model replicas and scorer actors (default: one per GPU for local models on
    a GPU cluster, else one per ``num_cpus`` CPU slots). ``num_gpus``: GPUs per model replica (default 1
    when the cluster has GPUs and the model is local, else 0).
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        num_replicas: int | None = None,
        num_cpus: float = 1.0,
        num_gpus: float | None = None,
        max_in_flight: int = 2,
        score_items_per_task: int = 1024,
        max_restarts: int = 2,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        if num_replicas is not None and num_replicas < 1:
            raise ConfigError(f"Ray replicas must be at least 1, got {num_replicas}.")
        if num_cpus <= 0 or max_in_flight < 1 or score_items_per_task < 1:
            raise ConfigError("Ray num_cpus must be positive; max_in_flight and score_items_per_task >= 1.")
        self.ray = _import_ray()
        self.address = address
        self.num_replicas = num_replicas
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.max_in_flight = max_in_flight
        self.score_items_per_task = score_items_per_task
        self.max_restarts = max_restarts
        self.init_options = dict(init_options or {})
        self._started = False
        self.replicas: dict[str, int] = {}
        """Actors used, by stage: ``generate`` by the last call, ``score`` the most any analyzer used
        (an analyzer whose outputs fit in one task needs only one)."""

    # -- cluster -------------------------------------------------------------------------------------
    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        options: dict[str, Any] = {"logging_level": logging.WARNING, **self.init_options}
        import os

        if self.address is None and not os.environ.get("RAY_ADDRESS"):
            # A private instance for this run: no dashboard, nothing advertised beyond loopback.
            options = {"include_dashboard": False, "_node_ip_address": "127.0.0.1", **options}
            ray.init(**options)
            self._started = True
        else:
            try:
                ray.init(address=self.address, **options)
            except ConnectionError as exc:
                raise ConfigError(
                    f"Cannot connect to the Ray cluster at {self.address or os.environ['RAY_ADDRESS']!r} "
                    f"({exc}). Start it with `ray start --head`, or check --ray-address."
                ) from None

    def close(self) -> None:
        """Shut down the Ray instance this executor started (a cluster it joined is left running)."""
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
        self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _resources(self) -> tuple[float, float]:
        resources = self.ray.cluster_resources()
        return float(resources.get("CPU", 1.0)), float(resources.get("GPU", 0.0))

    # -- dispatch ------------------------------------------------------------------------------------
    def _ready(self, actors: Sequence[Any]) -> None:
        """Wait until every actor is built; raise the first construction error in the driver."""
        for failure in self.ray.get([actor.ready.remote() for actor in actors]):
            if failure is not None:
                raise failure

    def _dispatch(
        self,
        *,
        actors: Sequence[Any],
        work: Iterable[Any],
        on_result: Callable[[Any, Any], bool],
        on_crash: Callable[[Any, BaseException], bool],
    ) -> None:
        """Feed ``work`` to ``actors`` (``max_in_flight`` each); call back on the driver as tasks finish."""
        ray = self.ray
        pending = iter(work)
        in_flight: dict[Any, tuple[int, Any]] = {}

        def submit(slot: int) -> None:
            item = next(pending, None)
            if item is not None:
                in_flight[actors[slot].run.remote(item)] = (slot, item)

        for _ in range(self.max_in_flight):
            for slot in range(len(actors)):
                submit(slot)
        while in_flight:
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            slot, item = in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the replica died or the task failed outside our code
                keep_going = on_crash(item, exc)
            else:
                if isinstance(result, AuditkitError):
                    raise result
                keep_going = on_result(item, result)
            if not keep_going:
                return
            submit(slot)

    def _kill(self, actors: Sequence[Any]) -> None:
        for actor in actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # already gone: nothing to release
                pass

    # -- generation ----------------------------------------------------------------------------------
    def generate(
        self,
        *,
        adapter: AdapterSource,
        batches: Iterable[GenerationBatch],
        on_batch: Callable[[GenerationOutcome], bool],
    ) -> None:
        spec, abilities = adapter.spec, adapter.abilities
        if abilities.replayed:  # reading a file: nothing worth shipping to replicas
            meter = open_meter(device="cpu", energy_source=abilities.energy_source, adapter=spec.scheme)
            LocalExecutor(meter=meter).generate(adapter=adapter, batches=batches, on_batch=on_batch)
            return
        todo = list(batches)
        if not todo:
            return
        self._connect()
        identity = adapter.build().identity
        cpus, gpus = self._resources()
        remote = abilities.remote
        num_gpus = self.num_gpus if self.num_gpus is not None else (1.0 if gpus >= 1 and not remote else 0.0)
        if self.num_replicas is not None:
            count = self.num_replicas
        elif num_gpus > 0:
            count = max(1, int(gpus // num_gpus))
        else:
            count = max(1, int(cpus // self.num_cpus))
        count = min(count, len(todo))
        specs = [spec] * count
        if abilities.concurrency:
            total = int(spec.options.get("concurrency") or DEFAULT_HTTP_CONCURRENCY)
            specs = [
                dataclasses.replace(spec, options={**spec.options, "concurrency": str(share)})
                for share in split_concurrency(total=total, replicas=count)
            ]
        modules = [m for m in [_plugin_module(adapters.get(spec.scheme))] if m]
        actor_class = self.ray.remote(_GenerationReplica).options(
            num_cpus=self.num_cpus, num_gpus=num_gpus, max_restarts=self.max_restarts, max_task_retries=0
        )
        actors = [actor_class.remote(s, modules, identity.key, abilities.energy_source) for s in specs]
        self.replicas["generate"] = len(actors)
        try:
            self._ready(actors)

            def on_crash(batch: GenerationBatch, exc: BaseException) -> bool:
                message = f"Ray replica failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                generations = failed_generations(prompts=batch.prompts, message=message)

                return on_batch(GenerationOutcome(batch=batch, generations=tuple(generations), reading=Reading()))

            self._dispatch(actors=actors, work=todo, on_result=lambda _b, outcome: on_batch(outcome), on_crash=on_crash)
            try:
                self.ray.get([actor.close.remote() for actor in actors], timeout=30)
            except self.ray.exceptions.RayError:
                pass  # a replica that cannot close cleanly is killed below
        finally:
            self._kill(actors)

    # -- scoring -------------------------------------------------------------------------------------
    def score(
        self,
        *,
        analyzer: AnalyzerSource,
        batches: Iterable[ScoreBatch],
        on_batch: Callable[[ScoreOutcome], None],
    ) -> None:
        tasks = list(_chunks(batches, items=self.score_items_per_task))
        if not tasks:
            return
        self._connect()
        cpus, _ = self._resources()
        count = self.num_replicas if self.num_replicas is not None else max(1, int(cpus // self.num_cpus))
        count = min(count, len(tasks))
        modules = [m for m in [_plugin_module(analyzers.get(analyzer.name))] if m]
        actor_class = self.ray.remote(_ScoringReplica).options(
            num_cpus=self.num_cpus, max_restarts=self.max_restarts, max_task_retries=0
        )
        actors = [actor_class.remote(analyzer.name, dict(analyzer.options), modules) for _ in range(count)]
        self.replicas["score"] = max(self.replicas.get("score", 0), len(actors))

        def on_result(_chunk: list[ScoreBatch], outcomes: list[ScoreOutcome]) -> bool:
            for outcome in outcomes:
                on_batch(outcome)
            return True

        def on_crash(chunk: list[ScoreBatch], exc: BaseException) -> bool:
            message = f"Ray scorer failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            for batch in chunk:
                on_batch(ScoreOutcome(batch=batch, scores=(), error=message))
            return True

        try:
            self._ready(actors)
            self._dispatch(actors=actors, work=tasks, on_result=on_result, on_crash=on_crash)
        finally:
            self._kill(actors)
