"""Test doubles for the engine tests: a scriptable adapter, tiny analyzers and a suite writer.

The adapter is registered as ``enginefake:<name>``; each test puts a ``ScriptedAdapter`` into ``FAKES``
under a name and runs the engine with ``--model enginefake:<name>``, then inspects its call counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from auditkit.adapters.base import AdapterIdentity, adapters
from auditkit.analyzers.base import Analysis, Observation, analyzers
from auditkit.records import Generation, GenerationConfig, Metric, Prompt, Score

__all__ = ["FAKES", "ScriptedAdapter", "engine_request", "write_suite"]

FAKES: dict[str, ScriptedAdapter] = {}


class ScriptedAdapter:
    """Answers ``"<text> -> n=<max_new_tokens>"``; can fail prompts, batches, or interrupt after N batches."""

    default_batch_size = 4

    def __init__(
        self,
        *,
        model: str = "scripted",
        fail_prompt: Callable[[Prompt], bool] | None = None,
        raise_on_batch: int | None = None,
        raise_exc: BaseException | None = None,
        forbid_generate: bool = False,
    ) -> None:
        self.identity = AdapterIdentity(adapter="enginefake", model=model)
        self.fail_prompt = fail_prompt
        self.raise_on_batch = raise_on_batch
        self.raise_exc = raise_exc
        self.forbid_generate = forbid_generate
        self.calls = 0
        self.prompts_seen: list[str] = []
        self.configs_seen: list[GenerationConfig] = []
        self.closed = False

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        if self.forbid_generate:
            raise AssertionError("generate() called although everything should be cached")
        if self.raise_on_batch is not None and self.calls == self.raise_on_batch:
            self.calls += 1
            raise self.raise_exc or RuntimeError("scripted batch failure")
        self.calls += 1
        self.configs_seen.append(config)
        out = []
        for prompt in prompts:
            self.prompts_seen.append(prompt.id)
            if self.fail_prompt is not None and self.fail_prompt(prompt):
                out.append(Generation(prompt_id=prompt.id, output=None, error="scripted failure"))
                continue
            text = f"{prompt.text} -> n={config.max_new_tokens}"
            out.append(
                Generation(
                    prompt_id=prompt.id,
                    output=text,
                    input_tokens=len(prompt.text.split()),
                    output_tokens=len(text.split()),
                    finish_reason="stop",
                )
            )
        return out

    def close(self) -> None:
        self.closed = True


@adapters.register("enginefake")
def _make_fake(*, target: str, options: Mapping[str, str]) -> ScriptedAdapter:
    return FAKES[target]


class CharsAnalyzer:
    """Scores output length in characters; aggregates the mean (a real, checkable measure)."""

    name = "engine_chars"
    batch_size = 3

    def __init__(self, *, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        self.identity = {"scorer": "len", "version": "1", "options": self.options}
        self.batches = 0

    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        return [
            Score(
                prompt_id=i.prompt.id,
                analyzer=self.name,
                name="chars",
                value=float(len(i.generation.output or "")),
            )
            for i in items
        ]

    def aggregate(self, *, items: Sequence[Observation], scores: Sequence[Score]) -> Analysis:
        values = [s.value for s in scores if s.analyzer == self.name and s.value is not None]
        mean = sum(values) / len(values) if values else None
        return Analysis(
            metrics=(
                Metric(analyzer=self.name, name="mean_chars", value=mean, n=len(values), method="mean"),
            ),
            summary={"items": len(items), "scores_seen": len(scores), "options": self.options},
        )


class CrashingAnalyzer:
    """A scorer that raises on every batch: its scores must become errors, never 0."""

    name = "engine_crash"
    batch_size = 2
    identity = {"scorer": "crash", "version": "1"}

    def __init__(self, *, options: Mapping[str, Any]) -> None:
        pass

    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        raise RuntimeError("scorer exploded")

    def aggregate(self, *, items: Sequence[Observation], scores: Sequence[Score]) -> Analysis:
        mine = [s for s in scores if s.analyzer == self.name]
        return Analysis(
            summary={"errors": sum(1 for s in mine if s.error), "values": [s.value for s in mine]}
        )


analyzers.register("engine_chars")(lambda *, options: CharsAnalyzer(options=options))
analyzers.register("engine_crash")(lambda *, options: CrashingAnalyzer(options=options))


def write_suite(
    directory: Path,
    *,
    suite_id: str = "enginetest",
    n: int = 10,
    analyzers_: Sequence[str] = ("engine_chars",),
    generation: Mapping[str, Any] | None = None,
    pinned: Mapping[str, Any] | None = None,
    word: str = "item",
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """A suite with probe ``plain`` (n prompts) and, when ``pinned``, probe ``pinned`` (2 prompts)."""
    values = [f"{word} {i}" for i in range(n)]
    doc: dict[str, Any] = {
        "id": suite_id,
        "version": 1,
        "description": "Engine test suite.",
        "analyzers": list(analyzers_),
        "generation": dict(generation or {"max_new_tokens": 16}),
        "probes": [{"id": "plain", "prompt": "Say {{ thing }}", "axes": {"thing": values}}],
    }
    if options:
        doc["analyzer_options"] = {k: dict(v) for k, v in options.items()}
    if pinned:
        doc["probes"].append(
            {
                "id": "pinned",
                "prompt": "Pinned {{ thing }}",
                "axes": {"thing": ["a", "b"]},
                "generation": dict(pinned),
            }
        )
    path = directory / f"{suite_id}.yaml"
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML
    return path


def engine_request(**kwargs: Any):  # noqa: ANN201 - returns AuditRequest
    """An ``AuditRequest`` with quiet progress, no report and a private cache unless overridden."""
    from auditkit.engine.plan import AuditRequest

    defaults: dict[str, Any] = {"quiet": True, "report": False}
    defaults.update(kwargs)
    return AuditRequest(**defaults)
