"""Token-level decoding for the ``hf`` adapter: encode, left-pad, generate one batch, cut, count.

Decoding follows ``GenerationConfig`` and nothing else: the model's own ``generation_config`` may ask
for a repetition penalty or sampling, which would make an audit depend on a file most users never read,
so those knobs are neutralised here.

Sampling is done by a logits processor (:mod:`auditkit.adapters.hf_sampling`) that draws every row from
its own counter-based stream (seeded per prompt) in one batched kernel and hands greedy search a one-hot
choice. Batched HF sampling shares one RNG stream across rows, so a prompt's sample would change with its
batch neighbours; per-prompt streams keep it fixed.

Log-probs of the generated tokens are computed on the device for all rows and steps at once and cross to
Python in one transfer; references are scored in one padded forward pass per batch
(:func:`auditkit.adapters.hf_loglik.score_batch`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from auditkit.adapters import hf_loglik
from auditkit.adapters.hf_sampling import SeededSampler
from auditkit.records import Generation, GenerationConfig, Prompt

__all__ = ["Item", "encode_prompt", "generate_batch", "reference_logprobs"]


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
    *, items: Sequence[Item], config: GenerationConfig, model: Any, tokenizer: Any, device: str,
    limit: int | None = None,
) -> list[Generation]:
    """Decode ``items`` as one left-padded batch; one ``Generation`` per item, same order.

    ``limit`` (the model's window) only bounds reference scoring, as in ``hf_loglik``.
    """
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
        processors.append(SeededSampler(
            seeds=[item.seed for item in items], temperature=config.temperature, top_p=config.top_p,
            prompt_width=width, device=device,
        ))
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
    chosen = out.sequences[:, width:]
    logprobs = _token_logprobs(logits=out.logits, chosen=chosen) if config.logprobs else None
    new = chosen.tolist()
    generations = [
        _finish(item=item, new_ids=new[row], logprobs=logprobs[row] if logprobs else None, config=config,
                tokenizer=tokenizer, eos_ids=eos_ids)
        for row, item in enumerate(items)
    ]
    if config.score_reference:
        scored = reference_logprobs(items=items, model=model, tokenizer=tokenizer, device=device, limit=limit)
        generations = [replace(g, reference_logprob=lp) for g, lp in zip(generations, scored)]
    total = sum(g.output_tokens or 0 for g in generations)
    return [
        replace(g, latency_s=wall * (g.output_tokens or 0) / total if total else wall / len(generations))
        for g in generations
    ]


def _token_logprobs(*, logits: Sequence[Any], chosen: Any) -> list[list[float]]:
    """Log-probability of each chosen token under the unprocessed logits, computed on the device and moved
    to Python in one transfer. ``log p = logit - logsumexp(logits)`` per step: no full ``log_softmax``
    output and no stacked (rows, steps, vocabulary) copy, only one value per row and step."""
    import torch

    per_step = []
    for t, step in enumerate(logits):
        scores = step.float()  # a no-op for float32 logits, one conversion for half precision
        per_step.append(scores.gather(1, chosen[:, t : t + 1]).squeeze(1) - torch.logsumexp(scores, dim=1))
    values: list[list[float]] = torch.stack(per_step, dim=1).tolist()
    return values


def reference_logprobs(
    *, items: Sequence[Item], model: Any, tokenizer: Any, device: str, limit: int | None = None
) -> list[float | None]:
    """Total log-likelihood of each prompt's reference right after the prompt, teacher-forced; all
    references of ``items`` in one padded forward pass (``hf_loglik.score_batch``).

    ``None`` for a prompt without a reference. The reference is tokenized on its own, without special
    tokens, exactly as the candidates it is ranked against are.
    """
    encoded: list[hf_loglik.Encoded] = []
    for row, item in enumerate(items):
        if not item.prompt.reference:
            continue
        target = tokenizer(item.prompt.reference, add_special_tokens=False)["input_ids"]
        if target and (limit is None or len(target) <= limit):  # a longer one cannot be scored in the window
            encoded.append(hf_loglik.Encoded(index=row, context=tuple(item.ids), target=tuple(target)))
    found: dict[int, float | None] = {}
    if encoded:
        for enc, result in zip(encoded, hf_loglik.score_batch(items=encoded, model=model, device=device, limit=limit)):
            found[enc.index] = result.logprob
    return [found.get(row) for row in range(len(items))]


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
        tokens=tuple(tokenizer.batch_decode([[t] for t in kept])) if logprobs is not None else None,
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
