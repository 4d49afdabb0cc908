"""Log-likelihoods over an OpenAI-compatible ``/completions`` endpoint with ``echo`` + ``logprobs``.

Each request sends ``context + continuation`` as the prompt with ``echo: true``, ``logprobs: 1``,
``max_tokens: 1`` and ``temperature: 0`` (as lm-evaluation-harness's API models do); the server answers
with the log-probability of every prompt token (``logprobs.token_logprobs``, ``text_offset``,
``top_logprobs``). The continuation's tokens are those that start at or after the context's end and
before the generated token; a token straddling the boundary belongs to the context. vLLM and the legacy
OpenAI completions models offer this; a server that does not (no ``echo``, no prompt log-probs) stops the
run with an ``AdapterError`` naming the missing capability.

An empty context scores the continuation from the start of the text: the server adds the model's BOS
token where its tokenizer has one; otherwise the first token has no log-probability, and the request
fails with a message saying so. The server also puts its BOS before a non-empty context, which the
``hf`` path (like lm-evaluation-harness's) does not: for models whose tokenizer adds a BOS token,
intersentence StereoSet scores over HTTP can differ slightly from local ones (CrowS-Pairs, scored from
the start, is the same either way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from auditkit.errors import AdapterError
from auditkit.records import LoglikRequest, LoglikResult

if TYPE_CHECKING:
    from auditkit.adapters.openai import OpenAIAdapter

__all__ = ["CAPABILITY", "parse_echo", "score_requests"]

CAPABILITY = (
    "prompt log-probabilities from the completions endpoint (echo=true with logprobs), which likelihood "
    "benchmarks need; vLLM's OpenAI server offers them, chat-only APIs do not"
)


def score_requests(*, adapter: OpenAIAdapter, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
    """One result per request, same order; ``concurrency`` requests in flight."""
    if not requests:
        return []
    url = f"{adapter.settings.base_url}/completions"

    async def run(headers: dict[str, str]) -> list[LoglikResult]:
        return list(await asyncio.gather(*(_one(adapter, r, url, headers) for r in requests)))

    return adapter.run_sync(run)


async def _one(adapter: OpenAIAdapter, request: LoglikRequest, url: str, headers: dict[str, str]) -> LoglikResult:
    from auditkit.adapters.openai import RequestGaveUpError, RequestRejectedError

    body = {
        "model": adapter.settings.model, "prompt": request.context + request.continuation, "echo": True,
        "logprobs": 1, "max_tokens": 1, "temperature": 0,
    }
    try:
        data, _ = await adapter.post(url=url, body=body, headers=headers, prompt_id=request.prompt_id)
    except RequestGaveUpError as exc:
        return LoglikResult(logprob=None, error=str(exc))
    except RequestRejectedError as exc:
        # A server that rejects echo/logprobs rejects every request: the whole run needs another server.
        if any(word in str(exc).lower() for word in ("echo", "logprobs")):
            raise AdapterError(
                f"{url} rejected a log-likelihood request ({exc}). The benchmark needs {CAPABILITY}."
            ) from None
        return LoglikResult(logprob=None, error=f"request rejected: {exc}")
    return parse_echo(choice=data["choices"][0], context=request.context,
                      text=request.context + request.continuation, url=url)


def parse_echo(*, choice: Any, context: str, text: str, url: str) -> LoglikResult:
    """The continuation's log-probabilities from one echoed completion choice."""
    block = choice.get("logprobs") if isinstance(choice, dict) else None
    values = block.get("token_logprobs") if isinstance(block, dict) else None
    offsets = block.get("text_offset") if isinstance(block, dict) else None
    if not isinstance(values, list) or not isinstance(offsets, list) or len(values) != len(offsets):
        raise AdapterError(f"{url} answered without token_logprobs/text_offset. The benchmark needs {CAPABILITY}.")
    assert isinstance(block, dict)  # checked above: values came from it
    found_tops = block.get("top_logprobs")
    tops: list[Any] = found_tops if isinstance(found_tops, list) else [None] * len(values)
    # A zero-width first token without a log-probability is the BOS the server added: not text of ours.
    skip = 1 if len(offsets) > 1 and values[0] is None and offsets[0] == offsets[1] else 0
    echoed = [
        i for i, start in enumerate(offsets)
        if i >= skip and isinstance(start, int) and len(context) <= start < len(text)
    ]
    if not echoed or (offsets and offsets[0] != 0):
        raise AdapterError(f"{url} did not echo the prompt's tokens. The benchmark needs {CAPABILITY}.")
    steps = [values[i] for i in echoed]
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in steps):
        return LoglikResult(
            logprob=None, tokens=len(steps),
            error="the server gave no log-probability for the continuation's first token (the model's tokenizer "
                  "adds no BOS token and the context is empty)",
        )
    greedy = all(_is_top(tops[i], values[i]) for i in echoed)
    floats = tuple(float(v) for v in steps)
    return LoglikResult(logprob=sum(floats), tokens=len(floats), token_logprobs=floats, greedy=greedy)


def _is_top(alternatives: Any, value: float) -> bool:
    """Whether ``value`` is the highest log-probability among the server's top alternatives."""
    return isinstance(alternatives, dict) and bool(alternatives) and value >= max(alternatives.values()) - 1e-9
