"""Token-level decoding for the ``hf`` adapter: encode, left-pad, generate one batch, cut, count.

Decoding follows ``GenerationConfig`` and nothing else: the model's own ``generation_config`` may ask
for a repetition penalty or sampling, which would make an audit depend on a file most users never read,
so those knobs are neutralised here.

Sampling is done by a logits processor that draws every row with its own ``torch.Generator`` (seeded
per prompt) and hands greedy search a one-hot choice. Batched HF sampling shares one RNG stream across
rows, so a prompt's sample would change with its batch neighbours; per-row generators keep it fixed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from auditkit.records import Generation, GenerationConfig, Prompt

__all__ = ["Item", "encode_prompt", "generate_batch", "reference_logprob"]


@dataclass(frozen=True, slots=True)
class Item:
    """One prompt ready to decode: its token ids (unpadded) and its sampling seed."""

    prompt: Prompt
    ids: list[int]
    seed: int


def encode_prompt(*, prompt: Prompt, tokenizer: Any, chat: bool) -> list[int]:
    """Token ids of the prompt: raw text, or the chat template applied to its turns.

    A final assistant turn is a pre-filled answer: the template continues it instead of opening a new turn.
    """
    if prompt.messages is not None:
        turns = [{"role": m.role, "content": m.content} for m in prompt.messages]
    elif chat:
        turns = [{"role": "user", "content": prompt.prompt or ""}]
    else:
        return list(tokenizer(prompt.prompt or "")["input_ids"])
    prefill = bool(turns) and turns[-1]["role"] == "assistant"
    text = tokenizer.apply_chat_template(
        turns, tokenize=False, add_generation_prompt=not prefill, continue_final_message=prefill
    )
    # The template already wrote any BOS token into the text.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def generate_batch(
    *, items: Sequence[Item], config: GenerationConfig, model: Any, tokenizer: Any, device: str
) -> list[Generation]:
    """Decode ``items`` as one left-padded batch; one ``Generation`` per item, same order."""
    import torch
    from transformers import GenerationConfig as HFGenerationConfig
    from transformers import LogitsProcessorList, StoppingCriteriaList

    eos_ids = _eos_ids(model=model, tokenizer=tokenizer)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = eos_ids[0] if eos_ids else 0  # padded positions are masked, any id works
    width = max(len(item.ids) for item in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        input_ids[row, width - len(item.ids) :] = torch.tensor(item.ids, dtype=torch.long)
        mask[row, width - len(item.ids) :] = 1
    hf_config = HFGenerationConfig(
        max_new_tokens=config.max_new_tokens, min_new_tokens=0, do_sample=False, num_beams=1,
        repetition_penalty=1.0, no_repeat_ngram_size=0, pad_token_id=pad_id,
        eos_token_id=eos_ids or None, return_dict_in_generate=True, output_logits=config.logprobs,
    )
    processors = LogitsProcessorList()
    if not config.greedy:
        processors.append(
            _SeededSampler(items=items, temperature=config.temperature, top_p=config.top_p, device=device)
        )
    stopping = StoppingCriteriaList()
    if config.stop:
        stopping.append(_StopStrings(tokenizer=tokenizer, stops=config.stop, prompt_width=width))
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids.to(device), attention_mask=mask.to(device), generation_config=hf_config,
            logits_processor=processors, stopping_criteria=stopping,
        )
    wall = time.perf_counter() - start
    new = out.sequences[:, width:].tolist()
    logprobs: list[list[float]] | None = None
    if config.logprobs:
        steps = [torch.log_softmax(step.float(), dim=-1) for step in out.logits]
        chosen = out.sequences[:, width:]
        logprobs = [[float(steps[t][row, chosen[row, t]]) for t in range(len(steps))] for row in range(len(items))]
    generations = [
        _finish(item=item, new_ids=new[row], logprobs=logprobs[row] if logprobs else None, config=config,
                tokenizer=tokenizer, eos_ids=eos_ids)
        for row, item in enumerate(items)
    ]
    if config.score_reference:
        generations = [
            replace(g, reference_logprob=reference_logprob(item=item, model=model, tokenizer=tokenizer, device=device))
            for g, item in zip(generations, items)
        ]
    total = sum(g.output_tokens or 0 for g in generations)
    return [
        replace(g, latency_s=wall * (g.output_tokens or 0) / total if total else wall / len(generations))
        for g in generations
    ]


def reference_logprob(*, item: Item, model: Any, tokenizer: Any, device: str) -> float | None:
    """Total log-likelihood of the prompt's reference right after the prompt (one teacher-forced pass).

    ``None`` when the prompt has no reference. The reference is tokenized on its own, without special
    tokens, exactly as the candidates it is ranked against are.
    """
    import torch

    if not item.prompt.reference:
        return None
    target = tokenizer(item.prompt.reference, add_special_tokens=False)["input_ids"]
    if not target:
        return None
    ids = torch.tensor([item.ids + target], dtype=torch.long, device=device)
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0].float()
    # The token at position p is predicted by the logits at p - 1.
    positions = torch.arange(len(item.ids) - 1, len(item.ids) - 1 + len(target), device=logits.device)
    steps = torch.log_softmax(logits[positions], dim=-1)
    return float(steps[torch.arange(len(target)), torch.tensor(target, device=logits.device)].sum())


def _finish(
    *, item: Item, new_ids: list[int], logprobs: list[float] | None, config: GenerationConfig, tokenizer: Any,
    eos_ids: list[int],
) -> Generation:
    """Cut one row at end-of-sequence or the first stop string and count what the model produced.

    ``output_tokens`` counts every generated token up to and including the one that ended the output
    (the EOS token, or the token completing a stop string), so it matches ``token_logprobs``.
    """
    count = len(new_ids)
    reason = "length"
    for pos, token in enumerate(new_ids):
        if token in eos_ids:
            count, reason = pos + 1, "stop"
            break
    text = tokenizer.decode(new_ids[:count], skip_special_tokens=True)
    cut = _first_stop(text=text, stops=config.stop)
    if cut is not None:
        text, reason = text[:cut], "stop"
        count = _tokens_until_stop(ids=new_ids[:count], tokenizer=tokenizer, stops=config.stop)
    kept = new_ids[:count]
    return Generation(
        prompt_id=item.prompt.id,
        output=text,
        input_tokens=len(item.ids),
        output_tokens=count,
        finish_reason=reason,
        token_logprobs=tuple(logprobs[:count]) if logprobs is not None else None,
        tokens=tuple(tokenizer.decode([t]) for t in kept) if logprobs is not None else None,
    )


def _first_stop(*, text: str, stops: Sequence[str]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


def _tokens_until_stop(*, ids: list[int], tokenizer: Any, stops: Sequence[str]) -> int:
    """Fewest leading tokens whose text already contains a stop string (binary search: it is monotone)."""
    low, high = 1, len(ids)
    while low < high:
        mid = (low + high) // 2
        if _first_stop(text=tokenizer.decode(ids[:mid], skip_special_tokens=True), stops=stops) is not None:
            high = mid
        else:
            low = mid + 1
    return high


def _eos_ids(*, model: Any, tokenizer: Any) -> list[int]:
    value = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if value is None:
        value = tokenizer.eos_token_id
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


class _SeededSampler:
    """Temperature + nucleus sampling with one generator per row; returns a one-hot score row."""

    def __init__(self, *, items: Sequence[Item], temperature: float, top_p: float, device: str) -> None:
        import torch

        self._generators = [torch.Generator(device=device).manual_seed(item.seed) for item in items]
        self._temperature = temperature
        self._top_p = top_p

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        probs = torch.softmax(scores.float() / self._temperature, dim=-1)
        if self._top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True, dim=-1)
            # Drop a token when the mass before it already reaches top_p; the top token always stays.
            drop = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) >= self._top_p
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        choice = torch.cat(
            [torch.multinomial(probs[row], 1, generator=gen) for row, gen in enumerate(self._generators)]
        )
        onehot = torch.full_like(scores, float("-inf"))
        onehot[torch.arange(scores.shape[0], device=scores.device), choice] = 0.0
        return onehot


class _StopStrings:
    """Stops a row once its generated text contains a stop string (only the recent tokens are decoded)."""

    def __init__(self, *, tokenizer: Any, stops: Sequence[str], prompt_width: int) -> None:
        self._tokenizer = tokenizer
        self._stops = [s for s in stops if s]
        self._width = prompt_width
        # A token carries at least one byte, so a stop string spans at most len(bytes) tokens (+ slack
        # for special tokens that decode to nothing).
        self._window = max((len(s.encode()) for s in self._stops), default=1) + 4

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        tail = input_ids[:, self._width :][:, -self._window :]
        texts = self._tokenizer.batch_decode(tail, skip_special_tokens=True)
        stopped = [any(s in t for s in self._stops) for t in texts]
        return torch.tensor(stopped, dtype=torch.bool, device=input_ids.device)
