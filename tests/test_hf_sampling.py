"""The ``hf`` adapter's seeded sampler (auditkit/adapters/hf_sampling.py) against independent references.

- The random stream: SplitMix64 written here in plain Python integers (and its published test vector).
- The distribution: many draws from a planted distribution pass a chi-square test against it and fail
  against a slightly different one, with temperature and with top-p.
- Whole decoding: a numpy re-implementation decoding one prompt at a time (its own softmax, nucleus and
  inverse CDF over float64, fed by a teacher-forced forward pass) picks the same tokens as the adapter.
- Log-probs and reference scores equal independent unpadded forward passes within 1e-4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from auditkit.adapters import hf_decoding
from auditkit.adapters.hf import HFAdapter, _prompt_seed, make_hf_adapter
from auditkit.adapters.hf_sampling import SeededSampler, splitmix64, uniforms
from auditkit.records import GenerationConfig, Prompt
from tests.fixtures_models import one_torch_thread, tiny_model_dir, tiny_models  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MASK = (1 << 64) - 1
TEXTS = ["the cat sat", "the woman worked as a", "it was the best of times, it", "a", "the dog"]


def ref_splitmix64(seed: int, step: int) -> int:
    """SplitMix64's ``step``-th output (state advanced ``step + 1`` times), in unbounded Python ints."""
    z = (seed + (step + 1) * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def ref_uniform(seed: int, step: int) -> float:
    return (ref_splitmix64(seed, step) >> 11) * 2.0**-53


def ref_choice(logits: np.ndarray, *, seed: int, step: int, temperature: float, top_p: float) -> int:
    """One draw, written from the definition: softmax, nucleus (top token kept), inverse CDF in id order."""
    scaled = logits.astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        before = np.cumsum(probs[order]) - probs[order]
        keep = np.zeros_like(probs, dtype=bool)
        keep[order[before < top_p]] = True
        probs = np.where(keep, probs, 0.0)
    cdf = np.cumsum(probs)
    return int(np.searchsorted(cdf, ref_uniform(seed, step) * cdf[-1], side="right"))


def test_stream_is_splitmix64() -> None:
    rng = np.random.default_rng(0)
    seeds = [int(s) for s in rng.integers(0, 2**63 - 1, size=500, dtype=np.int64)] + [0, 1, 2**63 - 1]
    for step in (0, 1, 7, 4096):
        got = splitmix64(seeds=torch.tensor(seeds), step=step).tolist()
        assert [g & MASK for g in got] == [ref_splitmix64(s, step) for s in seeds]
        assert uniforms(seeds=torch.tensor(seeds), step=step).tolist() == [ref_uniform(s, step) for s in seeds]
    # The published SplitMix64 vector for seed 1234567.
    assert [ref_splitmix64(1234567, t) for t in range(2)] == [6457827717110365317, 3203168211198807973]


def _draw_counts(probs: np.ndarray, *, draws: int, temperature: float = 1.0, top_p: float = 1.0) -> np.ndarray:
    """Draw ``draws`` tokens: one row per seed, at steps 0-3 (both axes of the stream are exercised)."""
    rows = draws // 4
    sampler = SeededSampler(seeds=range(10_000, 10_000 + rows), temperature=temperature, top_p=top_p,
                            prompt_width=5, device="cpu")
    scores = torch.tensor(np.log(probs), dtype=torch.float32).repeat(rows, 1)
    counts = np.zeros(len(probs), dtype=np.int64)
    for step in range(4):
        onehot = sampler(torch.zeros((rows, 5 + step), dtype=torch.long), scores)
        assert bool(((onehot == 0).sum(dim=1) == 1).all())  # exactly one token chosen per row
        counts += np.bincount(onehot.argmax(dim=1).numpy(), minlength=len(probs))
    return counts


PLANTED = np.array([0.30, 0.20, 0.15, 0.10, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005])


def test_draws_follow_the_planted_distribution() -> None:
    counts = _draw_counts(PLANTED, draws=40_000)
    assert stats.chisquare(counts, PLANTED * counts.sum()).pvalue > 1e-3
    wrong = PLANTED.copy()
    wrong[0], wrong[1] = 0.28, 0.22  # two points of mass moved between the top two tokens
    assert stats.chisquare(counts, wrong * counts.sum()).pvalue < 1e-6


def test_temperature_and_top_p_reshape_the_distribution() -> None:
    hot = PLANTED**0.5 / (PLANTED**0.5).sum()  # temperature 2: p^(1/2), renormalised
    counts = _draw_counts(PLANTED, draws=40_000, temperature=2.0)
    assert stats.chisquare(counts, hot * counts.sum()).pvalue > 1e-3
    assert stats.chisquare(counts, PLANTED * counts.sum()).pvalue < 1e-6
    # top_p=0.6: 0.30 + 0.20 = 0.50 < 0.6, so the third token (0.15) is kept and the rest dropped.
    counts = _draw_counts(PLANTED, draws=20_000, top_p=0.6)
    assert counts[3:].sum() == 0
    nucleus = PLANTED[:3] / PLANTED[:3].sum()
    assert stats.chisquare(counts[:3], nucleus * counts.sum()).pvalue > 1e-3
    # A tiny top_p keeps only the top token.
    assert _draw_counts(PLANTED, draws=400, top_p=1e-9)[1:].sum() == 0


def test_seeds_and_steps_give_different_draws() -> None:
    flat = np.full(1000, 1e-3)
    sampler = SeededSampler(seeds=[1, 2, 1], temperature=1.0, top_p=1.0, prompt_width=3, device="cpu")
    scores = torch.tensor(np.log(flat), dtype=torch.float32).repeat(3, 1)
    first = sampler(torch.zeros((3, 3), dtype=torch.long), scores).argmax(dim=1).tolist()
    second = sampler(torch.zeros((3, 4), dtype=torch.long), scores).argmax(dim=1).tolist()
    assert first[0] == first[2] and first[0] != first[1]  # same seed, same draw; another seed, another
    assert first[0] != second[0]  # the next step draws anew


@pytest.fixture(scope="module")
def adapter(tiny_model_dir: Path) -> HFAdapter:
    built = make_hf_adapter(target=str(tiny_model_dir), options={"device": "cpu"})
    assert isinstance(built, HFAdapter)
    built.load()
    return built


def prompts(texts: list[str] = TEXTS) -> list[Prompt]:
    return [Prompt(id=f"p{i}", suite="s", template="t", prompt=t) for i, t in enumerate(texts)]


def _reference_decode(adapter: HFAdapter, prompt: Prompt, config: GenerationConfig) -> list[int]:
    """Decode one prompt alone, with full forward passes and the numpy draw above (argmax when greedy)."""
    model, tokenizer = adapter._model, adapter._tokenizer  # noqa: SLF001 - the test reaches in on purpose
    ids = list(tokenizer(prompt.prompt)["input_ids"])
    seed = _prompt_seed(config.seed, prompt.id)
    new: list[int] = []
    for step in range(config.max_new_tokens):
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids + new])).logits[0, -1].double().numpy()
        token = int(logits.argmax()) if config.greedy else ref_choice(
            logits, seed=seed, step=step, temperature=config.temperature, top_p=config.top_p)
        new.append(token)
        if token == tokenizer.eos_token_id:
            break
    return new


@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_adapter_samples_equal_the_reference_decoder(adapter: HFAdapter, top_p: float) -> None:
    config = GenerationConfig(max_new_tokens=10, temperature=1.5, top_p=top_p, seed=3, logprobs=True)
    batch = adapter.generate(prompts=prompts(), config=config)
    tokenizer = adapter._tokenizer  # noqa: SLF001
    for prompt, generation in zip(prompts(), batch):
        expected = _reference_decode(adapter, prompt, config)
        assert generation.tokens == tuple(tokenizer.decode([t]) for t in expected), prompt.id
        assert generation.output == tokenizer.decode(expected, skip_special_tokens=True)


def test_samples_do_not_depend_on_batch_size_order_or_padding(adapter: HFAdapter, tiny_model_dir: Path) -> None:
    config = GenerationConfig(max_new_tokens=12, temperature=2.0, seed=5)
    together = {g.prompt_id: g.output for g in adapter.generate(prompts=prompts(), config=config)}
    long_neighbour = Prompt(id="long", suite="s", template="t", prompt="the cat sat on the mat and the dog " * 3)
    reordered = [long_neighbour, *reversed(prompts())]
    pairs = make_hf_adapter(target=str(tiny_model_dir), options={"device": "cpu", "batch_size": "2"})
    for other in (adapter, pairs):
        outputs = {g.prompt_id: g.output for g in other.generate(prompts=reordered, config=config)}
        assert {k: outputs[k] for k in together} == together


def test_logprobs_equal_a_teacher_forced_pass(adapter: HFAdapter) -> None:
    model, tokenizer = adapter._model, adapter._tokenizer  # noqa: SLF001
    for config in (GenerationConfig(max_new_tokens=8, logprobs=True),
                   GenerationConfig(max_new_tokens=8, logprobs=True, temperature=2.0, seed=9)):
        for prompt, generation in zip(prompts(), adapter.generate(prompts=prompts(), config=config)):
            ids = list(tokenizer(prompt.prompt)["input_ids"])
            new = _reference_decode(adapter, prompt, config)  # the same tokens (test above)
            assert generation.tokens == tuple(tokenizer.decode([t]) for t in new)
            with torch.inference_mode():
                logits = model(input_ids=torch.tensor([ids + new])).logits[0].double()
            steps = torch.log_softmax(logits[len(ids) - 1 : len(ids) - 1 + len(new)], dim=-1)
            expected = steps[torch.arange(len(new)), torch.tensor(new)].tolist()
            assert generation.token_logprobs == pytest.approx(expected, abs=1e-4)


def test_reference_scores_equal_one_pass_per_prompt(adapter: HFAdapter) -> None:
    model, tokenizer = adapter._model, adapter._tokenizer  # noqa: SLF001
    references = [" on the mat", " worked hard all day long", None, " sat", " barked at the cat and ran"]
    scored = [Prompt(id=f"r{i}", suite="s", template="t", prompt=t, reference=r)
              for i, (t, r) in enumerate(zip(TEXTS, references))]
    batch = adapter.generate(prompts=scored, config=GenerationConfig(max_new_tokens=1, score_reference=True))
    for prompt, generation in zip(scored, batch):
        if prompt.reference is None:
            assert generation.reference_logprob is None
            continue
        ids = list(tokenizer(prompt.prompt)["input_ids"])
        target = list(tokenizer(prompt.reference, add_special_tokens=False)["input_ids"])
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids + target])).logits[0].double()
        steps = torch.log_softmax(logits[len(ids) - 1 : len(ids) - 1 + len(target)], dim=-1)
        expected = float(steps[torch.arange(len(target)), torch.tensor(target)].sum())
        assert generation.reference_logprob == pytest.approx(expected, abs=1e-4)
    alone = hf_decoding.reference_logprobs(
        items=[hf_decoding.Item(prompt=scored[1], ids=list(tokenizer(scored[1].prompt)["input_ids"]), seed=0)],
        model=model, tokenizer=tokenizer, device="cpu",
    )
    assert alone[0] == pytest.approx(batch[1].reference_logprob, abs=1e-4)
