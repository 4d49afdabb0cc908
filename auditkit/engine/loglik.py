"""The likelihood path of the generate stage: prompts with ``continuations`` are scored, not generated.

Each candidate continuation of a prompt becomes one :class:`~auditkit.records.LoglikRequest` (context =
the prompt's text); the adapter scores all of a batch's requests in one call, and the results are packed
back into one ``Generation`` per prompt (``output`` empty, ``loglikelihoods`` in the candidates' order),
so caching, the error budget, outputs.jsonl and replay treat them like any other output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditkit.errors import ConfigError
from auditkit.records import Generation, LoglikRequest, Prompt

__all__ = ["loglik_generations", "loglik_requests", "needs_loglik_message"]


def loglik_requests(*, prompts: Sequence[Prompt]) -> list[LoglikRequest]:
    """One request per candidate continuation, prompt by prompt."""
    return [
        LoglikRequest(prompt_id=p.id, index=k, context=p.prompt or "", continuation=c)
        for p in prompts
        for k, c in enumerate(p.continuations or ())
    ]


def loglik_generations(*, model: Any, prompts: Sequence[Prompt], scheme: str) -> list[Generation]:
    """Score every continuation of ``prompts`` with one ``loglikelihood`` call; one generation per prompt."""
    score = getattr(model, "loglikelihood", None)
    if score is None:
        raise ConfigError(needs_loglik_message(benchmarks=sorted({p.suite for p in prompts}), adapter=scheme))
    requests = loglik_requests(prompts=prompts)
    results = list(score(requests=requests))
    if len(results) != len(requests):
        message = (f"adapter {scheme!r} broke its contract: returned {len(results)} log-likelihoods "
                   f"for {len(requests)} continuations")
        return [Generation(prompt_id=p.id, output=None, error=message) for p in prompts]
    generations, start = [], 0
    for prompt in prompts:
        count = len(prompt.continuations or ())
        mine = tuple(results[start : start + count])
        start += count
        failed = [(k, r.error or "no log-probability") for k, r in enumerate(mine) if not r.ok]
        if failed:
            k, why = failed[0]
            generations.append(Generation(prompt_id=prompt.id, output=None, error=f"continuation {k}: {why}"))
            continue
        # Nothing is generated: output_tokens 0 makes a batch's cost shared equally among its prompts.
        generations.append(Generation(
            prompt_id=prompt.id, output="", loglikelihoods=mine, output_tokens=0,
            input_tokens=sum(r.tokens for r in mine), finish_reason="loglikelihood",
        ))
    return generations


def needs_loglik_message(*, benchmarks: Sequence[str], adapter: str) -> str:
    """The exit-2 message for an adapter without the log-likelihood ability."""
    names = ", ".join(benchmarks)
    return (
        f"{names} {'is a likelihood benchmark' if len(benchmarks) == 1 else 'are likelihood benchmarks'}: "
        f"it needs an adapter that scores log-likelihoods of given continuations, and the {adapter!r} adapter "
        "does not (AdapterAbilities.loglikelihood is false). Use hf:MODEL, smollm2, openai:MODEL against a "
        "server whose completions endpoint takes echo + logprobs (vLLM), replay:FILE with 'loglikelihoods', "
        "or mock:NAME."
    )
