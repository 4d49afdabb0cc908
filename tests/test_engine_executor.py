"""Executor seam pieces: cost attribution by output tokens, contract enforcement, progress modes."""

from __future__ import annotations

import io

import pytest

from auditkit.adapters.base import parse_model_spec
from auditkit.energy.meter import Reading, open_meter
from auditkit.engine.executor import AdapterSource, GenerationBatch, LocalExecutor, attribute_cost
from auditkit.engine.progress import Progress
from auditkit.records import Generation, GenerationConfig, Prompt


def test_cost_is_shared_by_output_tokens_and_provided_values_are_kept() -> None:
    reading = Reading(joules=100.0, method="measured-rapl", cpu_s=8.0, wall_s=4.0)
    gens = [
        Generation(prompt_id="a", output="x", output_tokens=1),
        Generation(prompt_id="b", output="y", output_tokens=3),
        Generation(prompt_id="c", output=None, error="failed"),
        Generation(prompt_id="d", output="z", output_tokens=4, energy_j=7.0, latency_s=0.5),
    ]
    a, b, c, d = attribute_cost(generations=gens, reading=reading)
    assert (a.energy_j, b.energy_j) == (pytest.approx(12.5), pytest.approx(37.5))
    assert (a.latency_s, a.cpu_s) == (pytest.approx(0.5), pytest.approx(1.0))
    assert a.energy_method == "measured-rapl"
    assert c == gens[2]  # failures get no share
    assert (d.energy_j, d.energy_method, d.latency_s) == (7.0, "provided", 0.5)
    assert d.cpu_s == pytest.approx(4.0)


def test_not_measured_stays_none_and_missing_tokens_share_equally() -> None:
    reading = Reading(joules=None, method="not-measured", cpu_s=1.0, wall_s=3.0)
    gens = [Generation(prompt_id=p, output="x") for p in "abc"]
    out = attribute_cost(generations=gens, reading=reading)
    assert [g.energy_j for g in out] == [None] * 3
    assert [g.latency_s for g in out] == [pytest.approx(1.0)] * 3


class _Broken:
    default_batch_size = 2

    def __init__(self) -> None:
        from auditkit.adapters.base import AdapterIdentity

        self.identity = AdapterIdentity(adapter="broken", model="x")

    def generate(self, *, prompts, config):  # noqa: ANN001, ANN201
        return [Generation(prompt_id="wrong", output="x")]

    def close(self) -> None:
        pass


def test_adapter_contract_violation_becomes_errors_not_misattributed_outputs() -> None:
    prompts = tuple(Prompt(id=f"p{i}", suite="s", template="t", prompt="hi") for i in range(2))
    batch = GenerationBatch(index=0, config=GenerationConfig(), prompts=prompts, keys=("k0", "k1"))
    seen = []
    LocalExecutor(meter=open_meter(device="cpu")).generate(
        adapter=AdapterSource(spec=parse_model_spec(spec="broken:x"), local=_Broken()),  # type: ignore[arg-type]
        batches=[batch],
        on_batch=lambda outcome: seen.append(outcome) or True,
    )
    [outcome] = seen
    assert [g.prompt_id for g in outcome.generations] == ["p0", "p1"]
    assert all("broke its contract" in (g.error or "") for g in outcome.generations)
    assert outcome.reading.wall_s >= 0 and outcome.reading.method in {"not-measured", "estimated", "measured-rapl"}


def test_progress_plain_lines_when_not_a_tty_and_silent_when_quiet() -> None:
    stream = io.StringIO()
    with Progress(stream=stream) as progress:
        assert progress.mode == "lines"
        task = progress.task(description="generating", total=3)
        task.advance(3)
        task.finish()
    text = stream.getvalue()
    assert "generating: 0/3" in text and "generating: 3/3 (100%" in text
    quiet = io.StringIO()
    with Progress(quiet=True, stream=quiet) as progress:
        progress.task(description="generating", total=3).advance(3)
        progress.log("hello")
        progress.warn("careful")
    assert quiet.getvalue() == "auditkit: warning: careful\n"
