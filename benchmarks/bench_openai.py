"""The ``openai`` adapter's own cost: requests/s against a server that answers instantly.

The far end is ``benchmarks/instant_server.py`` in its own process (raw asyncio, one fixed
OpenAI-compatible answer), so what is measured is the client. Subject: the ``openai:`` adapter with
``concurrency=64`` driven as a run drives it — ``LocalExecutor.generate`` over batches of the adapter's
default batch size, each inside the energy meter, with the engine's per-request ``RequestWatcher``
listening. Baseline: a plain ``httpx.AsyncClient`` loop (semaphore of 64, a pool of 64 connections, one
client kept across repeats like the adapter's) posting the very same request bodies to the same URLs
(the adapter's own ``_body``: bias-suite prompts, plain ones to ``/completions``, chat ones to
``/chat/completions``). Repeats are interleaved and medians compared; target: adapter seconds / plain
seconds (= plain req/s / adapter req/s) ≤ 1.10. Both sides are bounded by the cores they share with the
server, so the absolute req/s say more about the machine than about either client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import REPO, Measure

__all__ = ["CONCURRENCY", "run", "start_server"]

CONCURRENCY = 64


def start_server() -> tuple[subprocess.Popen[str], str]:
    """Start the instant server in a child process; returns it and its ``/v1`` base URL."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.instant_server"], stdout=subprocess.PIPE,
                            text=True, cwd=REPO, env=env)
    line = proc.stdout.readline() if proc.stdout is not None else ""
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"the instant server did not start (first line: {line!r})")
    return proc, f"http://127.0.0.1:{int(line)}/v1"


def _prompts(n: int) -> list[Any]:
    """``n`` bias-suite prompts (plain and chat), ids made unique when the suite is cycled."""
    from auditkit.sources import load_sources

    loaded = load_sources(refs=["bias"], samples=None, analyzer_options={}, loglikelihood=None)
    pool = [p for source in loaded for p in source.prompts]
    return [dataclasses.replace(pool[i % len(pool)], id=f"{pool[i % len(pool)].id}-{i}") for i in range(n)]


def _via_engine(adapter: Any, prompts: list[Any], config: Any) -> Callable[[], int]:
    """One run's generation through the engine's executor, meter and request watcher; returns successes."""
    from auditkit.adapters.base import abilities_of, parse_model_spec
    from auditkit.energy.meter import open_meter
    from auditkit.engine.executor import AdapterSource, GenerationBatch, GenerationOutcome, LocalExecutor
    from auditkit.engine.progress import Progress
    from auditkit.engine.watch import RequestWatcher

    spec = parse_model_spec(spec=f"openai:{adapter.settings.model}")
    abilities = abilities_of(spec=spec)
    source = AdapterSource(spec=spec, local=adapter, abilities=abilities)
    size = adapter.default_batch_size
    batches = [GenerationBatch(index=i // size, config=config, prompts=tuple(prompts[i : i + size]),
                               keys=tuple(p.id for p in prompts[i : i + size]))
               for i in range(0, len(prompts), size)]

    def decode() -> int:
        ok = 0
        meter = open_meter(device="cpu", energy_source=abilities.energy_source, adapter="openai")
        with Progress(quiet=True) as progress:
            task = progress.task(description="generating", total=len(prompts))
            watcher = RequestWatcher(progress=progress, task=task)
            adapter.listen(watcher)

            def on_batch(outcome: GenerationOutcome) -> bool:
                nonlocal ok
                ok += sum(1 for g in outcome.generations if g.ok)
                watcher.settle(g.prompt_id for g in outcome.generations)
                return True

            try:
                LocalExecutor(meter=meter).generate(adapter=source, batches=batches, on_batch=on_batch)
            finally:
                adapter.listen(None)
                task.finish()
        return ok

    return decode


def _plain_loop(requests: list[tuple[str, dict[str, Any]]]) -> tuple[Callable[[], int], Callable[[], None]]:
    """The baseline: a plain httpx.AsyncClient loop with the same concurrency; returns (run, close)."""
    import httpx

    loop = asyncio.new_event_loop()

    async def make() -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        return httpx.AsyncClient(timeout=60.0, limits=limits)

    client = loop.run_until_complete(make())

    async def everything() -> int:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(url: str, body: dict[str, Any]) -> bool:
            async with gate:
                response = await client.post(url, json=body)
                response.raise_for_status()
                return bool(response.json()["choices"])

        return sum(await asyncio.gather(*(one(url, body) for url, body in requests)))

    def close() -> None:
        loop.run_until_complete(client.aclose())
        loop.close()

    return (lambda: loop.run_until_complete(everything())), close


def run(*, quick: bool, workdir: Path) -> list[Measure]:
    from auditkit.adapters.base import build_adapter, parse_model_spec
    from auditkit.adapters.openai import _PATHS
    from auditkit.records import GenerationConfig

    n, repeats = (512, 3) if quick else (2048, 5)
    prompts = _prompts(n)
    config = GenerationConfig(max_new_tokens=24, temperature=0.0)
    server, base = start_server()
    try:
        spec = parse_model_spec(spec="openai:bench")
        adapter = build_adapter(spec=dataclasses.replace(spec, options={
            "base_url": base, "concurrency": str(CONCURRENCY), "api_key_env": "AUDITKIT_BENCH_UNSET_KEY"}))
        bodies = []
        for p in prompts:
            endpoint = adapter._endpoint_for(p)  # noqa: SLF001 - the very bodies the adapter sends
            bodies.append((f"{base}/{_PATHS[endpoint]}", adapter._body(p, config, endpoint)))  # noqa: SLF001
        subject = _via_engine(adapter, prompts, config)
        plain, close_plain = _plain_loop(bodies)
        try:
            answered = {"adapter": subject(), "plain": plain()}  # warm-up: connections, imports
            times: dict[str, list[float]] = {"adapter": [], "plain": []}
            for _ in range(repeats):
                for name, fn in (("adapter", subject), ("plain", plain)):
                    start = time.perf_counter()
                    answered[name] = min(answered[name], fn())
                    times[name].append(time.perf_counter() - start)
        finally:
            close_plain()
            adapter.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    if answered != {"adapter": n, "plain": n}:
        raise RuntimeError(f"not every request succeeded: {answered} of {n}")
    ours, theirs = statistics.median(times["adapter"]), statistics.median(times["plain"])
    setting = (f"{n} requests (bias-suite prompts, completions + chat), concurrency {CONCURRENCY}, instant local "
               f"server in its own process; {repeats} interleaved repeats, medians")
    details = {"adapter_s": times["adapter"], "plain_s": times["plain"], "adapter_req_s": n / ours,
               "plain_req_s": n / theirs, "batch_size": adapter.default_batch_size}
    return [
        Measure(benchmark="openai", measure="openai adapter via the engine's executor / plain httpx loop",
                value=ours, baseline=theirs, unit="s", target=1.10, notes=setting, details=details),
        Measure(benchmark="openai", measure="openai adapter req/s / plain httpx loop req/s", value=n / ours,
                baseline=n / theirs, unit="req/s", target=None, notes="informational: the same pair as req/s",
                details=details),
    ]
