"""Log-likelihoods of given continuations for local transformers models (``hf``, ``smollm2``).

Requests are encoded as lm-evaluation-harness encodes them, so benchmark numbers match the field's:

- an empty context means "from the start": the continuation is scored after the tokenizer's BOS token,
  or its EOS token where it has no BOS;
- otherwise trailing whitespace of the context moves to the continuation, ``context + continuation`` is
  encoded whole (no special tokens) and the continuation is what follows the context's tokens — so a
  token that straddles the boundary is not split differently from how the model reads the text;
- a sequence longer than the model's window keeps its last ``limit + 1`` tokens.

A batch is one right-padded forward pass (never one pass per request): padded positions come after
every scored position, so causal attention never sees them. The scored positions of the whole batch
are gathered, normalised and compared on the device, and cross to Python in one transfer. Requests are
sorted by length first, which keeps padding low when a call is split into several batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auditkit.records import LoglikRequest, LoglikResult

__all__ = ["Encoded", "encode_request", "score_batch", "score_requests"]


@dataclass(frozen=True, slots=True)
class Encoded:
    """One request as token ids: ``input`` is fed to the model, the last ``len(target)`` ids of
    ``context + target`` are scored."""

    index: int
    context: tuple[int, ...]
    target: tuple[int, ...]


def encode_request(*, request: LoglikRequest, tokenizer: Any) -> tuple[list[int], list[int]]:
    """``(context ids, continuation ids)`` of one request (see the module docstring)."""
    context, continuation = request.context, request.continuation
    spaces = len(context) - len(context.rstrip())
    if spaces:
        continuation, context = context[-spaces:] + continuation, context[:-spaces]
    if context == "":  # no context (or only spaces, now part of the continuation): score after BOS
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if prefix is None:
            raise ValueError("the tokenizer has neither a BOS nor an EOS token to score the sentence after")
        return [int(prefix)], list(tokenizer(continuation, add_special_tokens=False)["input_ids"])
    whole = list(tokenizer(context + continuation, add_special_tokens=False)["input_ids"])
    head = list(tokenizer(context, add_special_tokens=False)["input_ids"])
    return head, whole[len(head) :]


def score_requests(
    *, requests: Sequence[LoglikRequest], model: Any, tokenizer: Any, device: str, batch_size: int,
    limit: int | None,
) -> list[LoglikResult]:
    """One result per request, same order; ``batch_size`` requests per forward pass."""
    results: dict[int, LoglikResult] = {}
    encoded: list[Encoded] = []
    for index, request in enumerate(requests):
        try:
            context, target = encode_request(request=request, tokenizer=tokenizer)
        except Exception as exc:  # one request's tokenizer failure is that request's
            results[index] = LoglikResult(logprob=None, error=f"could not encode: {exc}")
            continue
        if not target:
            results[index] = LoglikResult(logprob=None, error="the continuation encodes to no tokens")
            continue
        if limit is not None and len(target) > limit:
            results[index] = LoglikResult(
                logprob=None, tokens=len(target),
                error=f"the continuation has {len(target)} tokens, more than the model's window {limit}",
            )
            continue
        encoded.append(Encoded(index=index, context=tuple(context), target=tuple(target)))
    encoded.sort(key=lambda e: -(len(e.context) + len(e.target)))
    for start in range(0, len(encoded), max(1, batch_size)):
        part = encoded[start : start + max(1, batch_size)]
        for item, result in zip(part, score_batch(items=part, model=model, device=device, limit=limit)):
            results[item.index] = result
    return [results[i] for i in range(len(requests))]


def score_batch(*, items: Sequence[Encoded], model: Any, device: str, limit: int | None) -> list[LoglikResult]:
    """Score ``items`` in one right-padded forward pass."""
    import torch

    rows: list[list[int]] = []
    for item in items:
        full = [*item.context, *item.target]
        if limit is not None:
            full = full[-(limit + 1) :]
        rows.append(full[:-1])  # the last token is only ever predicted, never fed
    width = max(len(r) for r in rows)
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[r, : len(row)] = 1
    # Input position p predicts token p + 1: each row's targets are predicted by its last n input positions.
    row_index: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    for r, item in enumerate(items):
        end, n = len(rows[r]), len(item.target)
        row_index += [r] * n
        positions += range(end - n, end)
        targets += item.target
    with torch.inference_mode():
        logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
        # Every scored position of the batch at once, on the device; one transfer back.
        scored = logits[torch.tensor(row_index, device=logits.device), torch.tensor(positions, device=logits.device)]
        scored = scored.float()
        wanted = torch.tensor(targets, dtype=torch.long, device=logits.device)
        picked = torch.log_softmax(scored, dim=-1).gather(1, wanted.unsqueeze(1)).squeeze(1)
        hits = (scored.argmax(dim=-1) == wanted).to(picked.dtype)
        values, greedy = torch.stack([picked, hits]).tolist()
    results = []
    offset = 0
    for item in items:
        n = len(item.target)
        mine = tuple(float(v) for v in values[offset : offset + n])
        results.append(LoglikResult(
            logprob=float(sum(mine)), tokens=n, token_logprobs=mine, greedy=all(greedy[offset : offset + n])
        ))
        offset += n
    return results
