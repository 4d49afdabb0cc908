"""The parts of the OpenAI HTTP protocol the ``openai:`` adapter reads: a server's Retry-After, what a 404
means, and the two shapes of a choice's log-probabilities (chat and completions)."""

from __future__ import annotations

import email.utils
import time
from typing import Any

__all__ = ["chat_logprobs", "completion_logprobs", "not_found_message", "retry_after_seconds"]


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def not_found_message(*, url: str, model: str, snippet: str) -> str:
    """A 404 names every cause, and for /completions the option that avoids that endpoint."""
    message = f"{url} answered 404 for model {model!r}: the model does not exist there or base_url is wrong"
    if url.endswith("/chat/completions"):
        return f"{message} (server said: {snippet})"
    return (
        f"{message}, or the server has no /completions endpoint (server said: {snippet}). Plain prompts go "
        "to /completions so that they are continued as written; for a chat-only server add "
        "--model-arg endpoint=chat (each plain prompt then becomes one user turn)."
    )


def chat_logprobs(block: Any) -> tuple[tuple[str, ...] | None, tuple[float, ...] | None]:
    content = block.get("content") if isinstance(block, dict) else None
    if not isinstance(content, list):
        return None, None
    return tuple(str(t.get("token", "")) for t in content), tuple(
        float(t.get("logprob", 0.0)) for t in content
    )


def completion_logprobs(block: Any) -> tuple[tuple[str, ...] | None, tuple[float, ...] | None]:
    if not isinstance(block, dict) or not isinstance(block.get("token_logprobs"), list):
        return None, None
    tokens = block.get("tokens") or []
    return tuple(str(t) for t in tokens), tuple(
        float(x) if x is not None else 0.0 for x in block["token_logprobs"]
    )
