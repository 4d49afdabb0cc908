"""What a remote adapter tells the engine while a batch is in flight: one event per finished request and
one per retry, so a slow server shows progress per request and every timeout or retry is visible.

An adapter that can report events has a ``listen(callback)`` method (optional: local adapters finish a
batch at once and the engine counts per batch). The callback runs on the adapter's own thread and must
be quick and thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["RequestEvent", "RequestListener"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestEvent:
    """``done``: a prompt's request finished (``ok`` or failed with ``reason``); ``retry``: attempt
    ``attempt`` of ``attempts`` failed with ``reason`` and the next one starts in ``wait_s`` seconds."""

    kind: Literal["done", "retry"]
    prompt_id: str
    ok: bool = True
    reason: str = ""
    attempt: int = 0
    attempts: int = 0
    wait_s: float = 0.0


RequestListener = Callable[[RequestEvent], None]
