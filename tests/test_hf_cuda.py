"""The ``hf`` adapter on a CUDA device (skipped as a whole where torch sees none).

- Greedy decoding equals raw batched ``model.generate`` on the same loaded model, token for token.
- Seeded sampling on the GPU is the SplitMix64 stream of the CPU (the hash is exact integer arithmetic),
  and a prompt's sample is the same in any batch.
- A whole audit on CUDA labels its energy ``measured-nvml`` (NVML counters), with joules per output.

Models are float32, so the GPU's numbers differ from the CPU's only by kernel summation order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from auditkit.adapters.hf import HFAdapter, make_hf_adapter
from auditkit.adapters.hf_sampling import splitmix64
from auditkit.records import GenerationConfig, Prompt
from tests.fixtures_models import tiny_model_dir, tiny_models  # noqa: F401
from tests.fixtures_reliability import run_cli, write_word_suite

if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device (torch sees none)", allow_module_level=True)

TEXTS = ["the cat sat", "the woman worked as a", "it was the best of times, it", "a", "the dog sat on the"]


def prompts(texts: list[str] = TEXTS) -> list[Prompt]:
    return [Prompt(id=f"p{i}", suite="s", template="t", prompt=t) for i, t in enumerate(texts)]


@pytest.fixture(scope="module")
def adapter(tiny_model_dir: Path) -> HFAdapter:
    built = make_hf_adapter(target=str(tiny_model_dir), options={"device": "cuda", "dtype": "float32"})
    assert isinstance(built, HFAdapter) and built.identity.settings["device"] == "cuda"
    built.load()
    return built


def test_greedy_equals_raw_generate(adapter: HFAdapter) -> None:
    model, tokenizer = adapter._model, adapter._tokenizer  # noqa: SLF001 - the raw side uses the same model
    assert next(model.parameters()).device.type == "cuda"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rows = [tokenizer(t)["input_ids"] for t in TEXTS]  # left-padded by hand, as a user would with padding_side
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device="cuda")
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device="cuda")
    with torch.inference_mode():
        raw = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=16, do_sample=False, num_beams=1,
                             pad_token_id=pad)
    expected = tokenizer.batch_decode(raw[:, width:], skip_special_tokens=True)
    ours = adapter.generate(prompts=prompts(), config=GenerationConfig(max_new_tokens=16))
    assert [g.output for g in ours] == expected


def test_stream_on_the_gpu_equals_the_cpu() -> None:
    seeds = torch.tensor([0, 1, 12345, 2**63 - 1, 987654321987654321])
    for step in (0, 1, 63, 4096):
        assert splitmix64(seeds=seeds.cuda(), step=step).cpu().tolist() == splitmix64(seeds=seeds, step=step).tolist()


def test_seeded_sampling_is_stable_across_batches(adapter: HFAdapter, tiny_model_dir: Path) -> None:
    config = GenerationConfig(max_new_tokens=12, temperature=1.5, seed=4)
    together = {g.prompt_id: g.output for g in adapter.generate(prompts=prompts(), config=config)}
    again = {g.prompt_id: g.output for g in adapter.generate(prompts=prompts(), config=config)}
    assert again == together
    alone = {p.id: adapter.generate(prompts=[p], config=config)[0].output for p in prompts()}
    assert alone == together
    pairs = make_hf_adapter(
        target=str(tiny_model_dir), options={"device": "cuda", "dtype": "float32", "batch_size": "2"}
    )
    shuffled = list(reversed(prompts()))
    assert {g.prompt_id: g.output for g in pairs.generate(prompts=shuffled, config=config)} == together
    other = adapter.generate(prompts=prompts(), config=GenerationConfig(max_new_tokens=12, temperature=1.5, seed=5))
    assert [g.output for g in other] != list(together.values())


def test_audit_on_cuda_measures_energy_with_nvml(tmp_path: Path, tiny_model_dir: Path) -> None:
    pytest.importorskip("pynvml", reason="NVML energy needs nvidia-ml-py")
    suite = write_word_suite(tmp_path, n=8, template="the {{ word }} sat on the",
                             generation={"max_new_tokens": 16, "temperature": 1.0})
    out = tmp_path / "run"
    result = run_cli(["run", suite, "--model", f"hf:{tiny_model_dir}", "--model-arg", "device=cuda",
                      "--out", out, "--no-cache", "--no-report", "-q", "--seed", "3"])
    assert result.code == 0, result.err
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["manifest"]["model"]["settings"]["device"] == "cuda"
    assert results["manifest"]["energy"]["method"] == "measured-nvml"
    lines = [json.loads(line) for line in (out / "outputs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 8 and all((line.get("energy_j") or 0) > 0 for line in lines)
