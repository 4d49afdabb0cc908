"""Generation batches are full across suites: prompts of equal decoding configs share batches, whatever
suite they come from, and only the last batch of each config is partial (also when the cache already holds
some of them). Batch composition never changes an output: a sampled run of two suites together (mixed
batches) equals the suites run alone, on a real tiny model through the engine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from auditkit.api import run_audit
from auditkit.records import Generation, GenerationConfig, Prompt
from tests.fixtures_engine import FAKES, ScriptedAdapter, engine_request, write_suite
from tests.fixtures_models import one_torch_thread, tiny_model_dir, tiny_models  # noqa: F401


class BatchRecorder(ScriptedAdapter):
    """The scripted adapter, also recording each batch: its size, suites and config."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[int, tuple[str, ...], int]] = []

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        self.batches.append((len(prompts), tuple(p.suite for p in prompts), config.max_new_tokens))
        return super().generate(prompts=prompts, config=config)


def _audit(tmp_path: Path, name: str, suites: Sequence[Path], **kwargs: object) -> BatchRecorder:
    FAKES[name] = recorder = BatchRecorder()
    run_audit(request=engine_request(
        model=f"enginefake:{name}", out=tmp_path / f"out-{name}", suites=tuple(str(s) for s in suites),
        cache_path=tmp_path / "cache.sqlite", batch_size=4, **kwargs,
    ))
    return recorder


def test_suites_with_equal_configs_share_full_batches(tmp_path: Path) -> None:
    alpha = write_suite(tmp_path, suite_id="alpha", n=5, word="apple")
    beta = write_suite(tmp_path, suite_id="beta", n=5, word="berry")
    recorder = _audit(tmp_path, "share", [alpha, beta], use_cache=False)
    assert [size for size, _, _ in recorder.batches] == [4, 4, 2]  # not 4, 1, 4, 1
    assert set(recorder.batches[1][1]) == {"alpha", "beta"}


def test_only_the_last_batch_of_each_config_is_partial(tmp_path: Path) -> None:
    alpha = write_suite(tmp_path, suite_id="alpha", n=5, word="apple")
    long = write_suite(tmp_path, suite_id="long", n=3, word="lemon", generation={"max_new_tokens": 32})
    beta = write_suite(tmp_path, suite_id="beta", n=5, word="berry")
    recorder = _audit(tmp_path, "configs", [alpha, long, beta], use_cache=False)
    by_config: dict[int, list[int]] = {}
    for size, _, tokens in recorder.batches:
        by_config.setdefault(tokens, []).append(size)
    assert by_config == {16: [4, 4, 2], 32: [3]}
    assert len(recorder.batches) == 4  # one config per batch: the adapter is never handed a mixed batch


def test_batches_stay_full_when_the_cache_holds_scattered_prompts(tmp_path: Path) -> None:
    # The first 3 prompts of alpha are cached by a smaller run (same suite id, probe and values: same ids).
    small = tmp_path / "small"
    small.mkdir()
    _audit(tmp_path, "warm", [write_suite(small, suite_id="alpha", n=3, word="apple")])
    alpha = write_suite(tmp_path, suite_id="alpha", n=5, word="apple")
    beta = write_suite(tmp_path, suite_id="beta", n=5, word="berry")
    recorder = _audit(tmp_path, "rest", [alpha, beta])
    assert [size for size, _, _ in recorder.batches] == [4, 3]  # 7 missing prompts, not 2 + 4 + 1


def _outputs(run_dir: Path) -> dict[str, str]:
    lines = [json.loads(line) for line in (run_dir / "outputs.jsonl").read_text().splitlines()]
    return {line["id"]: line["output"] for line in lines}


@pytest.mark.usefixtures("one_torch_thread")
def test_sampled_outputs_do_not_depend_on_batch_composition(tmp_path: Path, tiny_model_dir: Path) -> None:
    sampled = {"max_new_tokens": 6, "temperature": 1.0, "seed": 5}
    alpha = write_suite(tmp_path, suite_id="alpha", n=5, word="the cat", generation=sampled)
    beta = write_suite(tmp_path, suite_id="beta", n=5, word="the dog", generation=sampled)

    def audit(out: str, suites: Sequence[Path], batch: int) -> dict[str, str]:
        run_audit(request=engine_request(
            model=f"hf:{tiny_model_dir}", model_options={"device": "cpu"}, out=tmp_path / out,
            suites=tuple(str(s) for s in suites), use_cache=False, batch_size=batch,
        ))
        return _outputs(tmp_path / out)

    together = audit("together", [alpha, beta], batch=4)  # batches 4, 4 (alpha + beta), 2
    apart = {**audit("alpha", [alpha], batch=3), **audit("beta", [beta], batch=2)}
    assert together == apart
    assert len(set(together.values())) > 1  # sampled, not one constant text
