"""Determinism: the same model, suite and seed give the same results.json (timestamps, durations and paths
aside) and the same outputs.jsonl (measured latency, CPU time and energy aside), run after run.

Two independent runs with --no-cache, into different directories, for a real sampled local model (the
tiny trained Llama of fixtures_models with temperature 1 and a seed: per-prompt seeded generators) and
for the shipped mock doubles. A changed seed must change the sampled outputs, or the check proves
nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures_models import tiny_model_dir, tiny_models  # noqa: F401
from tests.fixtures_reliability import normalized_outputs, normalized_results, run_cli, write_word_suite


def _run(tmp_path: Path, name: str, suite: Path, model: str, *extra: str) -> Path:
    out = tmp_path / name
    result = run_cli(["run", suite, "--model", model, "--out", out, "--no-cache", "--no-report", "-q", *extra])
    assert result.code == 0, result.err
    return out


@pytest.mark.slow
def test_sampled_local_model_is_reproducible_with_a_seed(tmp_path: Path, tiny_model_dir: Path) -> None:
    import torch

    suite = write_word_suite(
        tmp_path, n=8, template="the {{ word }} sat on the", generation={"max_new_tokens": 12, "temperature": 1.0}
    )
    model = f"hf:{tiny_model_dir}"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small model: one thread is faster on a shared CPU; results do not depend on it
    try:
        first = _run(tmp_path, "first", suite, model, "--seed", "11", "--samples", "2")
        second = _run(tmp_path, "second", suite, model, "--seed", "11", "--samples", "2")
        other = _run(tmp_path, "other", suite, model, "--seed", "12", "--samples", "2")
    finally:
        torch.set_num_threads(threads)

    assert normalized_results(first) == normalized_results(second)
    assert normalized_outputs(first) == normalized_outputs(second)
    outputs = [line["output"] for line in normalized_outputs(first)]
    assert len(outputs) == 16 and all(isinstance(o, str) for o in outputs)
    # sampling is real: the two samples of a prompt differ somewhere, and another seed changes outputs
    assert len(set(outputs)) > 8
    assert outputs != [line["output"] for line in normalized_outputs(other)]
    assert normalized_results(first)["manifest"]["generation"]["temperature"] == 1.0


@pytest.mark.parametrize("model", ["mock:toxic", "mock:biased", "mock:flaky"])
def test_mock_models_are_reproducible(tmp_path: Path, model: str) -> None:
    suite = write_word_suite(tmp_path, n=10)
    extra = ["--seed", "5", "--samples", "2", "--max-error-rate", "1"]
    first = _run(tmp_path, "first", suite, model, *extra)
    second = _run(tmp_path, "second", suite, model, *extra)
    assert normalized_results(first) == normalized_results(second)
    assert normalized_outputs(first) == normalized_outputs(second)
