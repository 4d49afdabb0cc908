"""Ray test helpers: one local Ray instance per test module, and an adapter that counts its calls on disk.

Ray replicas live in other processes, so in-memory counters cannot tell what they did. ``raycount:<dir>``
appends one JSON line per ``generate`` call (pid and prompt ids) to ``<dir>/calls.jsonl``; tests read it
to count exactly which prompts were generated. Option ``crash_once=1`` makes the first replica that reaches
its third batch kill its own process (``os._exit``) once per directory — a real replica crash. The
RayExecutor imports this module in the workers (it defines the factory), so the scheme is known there.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from auditkit.adapters.base import AdapterIdentity, adapters
from auditkit.records import Generation, GenerationConfig, Prompt

__all__ = ["CountingAdapter", "generated_ids", "ray_instance"]


class CountingAdapter:
    """Deterministic text from (prompt, seed); every call recorded in ``<dir>/calls.jsonl``."""

    default_batch_size = 4

    def __init__(self, *, directory: Path, crash_once: bool) -> None:
        self.directory = directory
        self.crash_once = crash_once
        self.identity = AdapterIdentity(adapter="raycount", model="counter")
        self.calls = 0

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        self.calls += 1
        marker = self.directory / "crashed"
        if self.crash_once and self.calls == 3:
            try:
                marker.open("x").close()
            except FileExistsError:
                pass
            else:
                os._exit(1)  # a real crash of the replica process, mid-run
        with (self.directory / "calls.jsonl").open("a") as log:
            log.write(json.dumps({"pid": os.getpid(), "ids": [p.id for p in prompts]}) + "\n")
        out = []
        for prompt in prompts:
            tag = hashlib.sha256(f"{config.seed}:{prompt.id}".encode()).hexdigest()[:8]
            text = f"{prompt.text} -> {tag}"
            out.append(
                Generation(prompt_id=prompt.id, output=text, output_tokens=len(text.split()), finish_reason="stop")
            )
        return out

    def close(self) -> None:
        pass


@adapters.register("raycount")
def make_counting(*, target: str, options: Mapping[str, str]) -> CountingAdapter:
    return CountingAdapter(directory=Path(target), crash_once=options.get("crash_once") == "1")


def generated_ids(directory: Path) -> list[str]:
    """Every prompt id any replica generated, in log order (duplicates kept)."""
    path = directory / "calls.jsonl"
    if not path.exists():
        return []
    return [pid for line in path.read_text().splitlines() for pid in json.loads(line)["ids"]]


def settled_generated_ids(directory: Path, *, quiet_s: float = 1.0, timeout_s: float = 30.0) -> list[str]:
    """``generated_ids`` once the log has stopped growing for ``quiet_s``: after an interrupted run,
    a replica may still finish the batch it was working on (uncommitted) a moment later."""
    import time

    deadline = time.monotonic() + timeout_s
    ids, stable_since = generated_ids(directory), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = generated_ids(directory)
        if now != ids:
            ids, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            break
    return ids


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[object]:
    """A local Ray with 2 CPUs, no dashboard, small object store; shut down after the module."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200_000_000,
        _node_ip_address="127.0.0.1",
        logging_level="WARNING",
    )
    try:
        yield ray
    finally:
        ray.shutdown()
