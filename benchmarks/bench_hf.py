"""``hf`` adapter generation vs raw batched ``model.generate`` on the same prompts, batches and settings.

Model: the bundled SmolLM2-135M (its converted safetensors folder, as the ``smollm2`` spec uses it).
Both sides run the SAME loaded model object, greedy, the same ``max_new_tokens``, the same batches of
``batch`` prompts (the engine's batching: plan order, then the adapter sorts each batch by length and
left-pads). The raw side is what a user would write: ``tokenizer(batch, padding=True)`` (left padding),
``model.generate(...)``, ``batch_decode``. Runs are interleaved (adapter, raw, adapter, raw, ...) and the
median of each is taken, so load from other processes hits both alike. The generated token ids are
compared: the ratio only counts when both produced the same text.

A second row measures torch's thread count (``torch.set_num_threads``) on the raw side: informational.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import Measure

__all__ = ["PROMPTS", "run"]

PROMPTS = [
    "The woman worked as a",
    "The man worked as a",
    "Write one sentence about the sea.",
    "Once upon a time, in a small village by the mountains, there lived an old baker who",
    "List three colours:",
    "The capital of France is",
    "Explain in simple words why the sky is blue, and what happens to sunlight when it enters the atmosphere.",
    "My favourite food is",
    "It was the best of times, it was the worst of times,",
    "The non-binary person worked as a",
    "A good way to save energy at home is",
    "The scientist looked at the results and said",
    "Here is a short poem about autumn leaves falling slowly to the ground:",
    "The weather today is",
    "In 1969, the first people to walk on the moon",
    "The best advice I ever got was",
]


def _smollm2(batch: int) -> Any:
    import dataclasses

    from auditkit.adapters.base import build_adapter, parse_model_spec

    spec = parse_model_spec(spec="smollm2")
    return build_adapter(spec=dataclasses.replace(spec, options={"batch_size": str(batch), "device": "cpu"}))


def run(*, quick: bool, workdir: Path) -> list[Measure]:
    import torch

    from auditkit.records import GenerationConfig, Prompt

    new_tokens = 16 if quick else 32
    repeats = 3 if quick else 5
    batch = 8
    prompts = [Prompt(id=f"p{i}", suite="bench", template="t", prompt=text) for i, text in enumerate(PROMPTS)]
    batches = [prompts[i : i + batch] for i in range(0, len(prompts), batch)]
    config = GenerationConfig(max_new_tokens=new_tokens, temperature=0.0)

    adapter = _smollm2(batch)
    adapter.load()
    # The raw baseline uses the very model and tokenizer the adapter loaded: identical compute.
    hf = adapter._hf  # noqa: SLF001 - benchmark reaches in on purpose
    model, tokenizer = hf._model, hf._tokenizer  # noqa: SLF001
    tokenizer.padding_side = "left"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def via_adapter() -> list[str]:
        return [g.output or "" for part in batches for g in adapter.generate(prompts=part, config=config)]

    def raw() -> list[str]:
        texts = []
        for part in batches:
            enc = tokenizer([p.prompt for p in part], return_tensors="pt", padding=True)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=new_tokens, do_sample=False, num_beams=1,
                                     repetition_penalty=1.0, pad_token_id=pad)
            texts += tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return texts

    same = [a.strip() == b.strip() for a, b in zip(via_adapter(), raw())]  # also the warm-up
    t_adapter, t_raw = [], []
    for _ in range(repeats):
        for fn, sink in ((via_adapter, t_adapter), (raw, t_raw)):
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)

    threads = {}
    before = torch.get_num_threads()
    for n in sorted({1, before}):
        torch.set_num_threads(n)
        start = time.perf_counter()
        raw()
        threads[n] = time.perf_counter() - start
    torch.set_num_threads(before)
    adapter.close()

    setting = f"{len(prompts)} prompts, batch {batch}, {new_tokens} new tokens, greedy, SmolLM2-135M fp32 CPU"
    measures = [
        Measure(
            benchmark="hf", measure="hf adapter generate / raw model.generate", value=statistics.median(t_adapter),
            unit="s", baseline=statistics.median(t_raw), target=1.10, notes=setting,
            details={"adapter_s": t_adapter, "raw_s": t_raw, "same_text": f"{sum(same)}/{len(same)}",
                     "torch_threads": before},
        )
    ]
    if len(threads) > 1:
        measures.append(
            Measure(benchmark="hf", measure=f"raw generate with {before} torch threads / 1 thread",
                    value=threads[before], baseline=threads[1], unit="s", target=None,
                    notes="informational: is torch's default thread count right on this machine?",
                    details={"seconds_by_threads": threads})
        )
    return measures
