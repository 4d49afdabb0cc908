"""Visible waiting and visible failure: what a slow or failing model tells the user.

``RequestWatcher`` listens to a remote adapter's per-request events (``adapters/events.py``): each finished
request advances the progress bar at once (not per batch, which can be minutes apart on a slow server),
and each retry or failed request prints a line saying which prompt, why, and how many attempts remain.
``common_errors`` condenses failed generations into their first distinct reasons with counts, for the
message of a failed or incomplete run (the reasons are otherwise only inside outputs.jsonl).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from auditkit.adapters.events import RequestEvent
from auditkit.engine.progress import Progress, ProgressTask
from auditkit.records import Generation

__all__ = ["RequestWatcher", "common_errors"]

_MAX_LINES = 30
"""Retry / failure lines printed before the watcher only counts (a dead server can fail 100k requests)."""
_REASON_CHARS = 160


class RequestWatcher:
    """Per-request progress and retry lines for one generation stage; thread-safe (adapter threads call it)."""

    def __init__(self, *, progress: Progress, task: ProgressTask) -> None:
        self._progress = progress
        self._task = task
        self._lock = threading.Lock()
        self._counted: set[str] = set()
        self._lines = 0
        self.retries = 0
        self.failed = 0

    def __call__(self, event: RequestEvent) -> None:
        with self._lock:
            if event.kind == "retry":
                self.retries += 1
                self._line(
                    f"request {event.prompt_id}: {_short(event.reason)} (attempt {event.attempt} of "
                    f"{event.attempts}); retrying in {event.wait_s:.1f}s"
                )
                return
            if not event.ok:
                self.failed += 1
                self._line(f"request {event.prompt_id} failed: {_short(event.reason)}")
            if event.prompt_id not in self._counted:
                self._counted.add(event.prompt_id)
                self._task.advance(1)

    def settle(self, prompt_ids: Iterable[str]) -> None:
        """Advance for the prompts of a finished batch that no event counted (e.g. a batch-level failure)."""
        with self._lock:
            fresh = [pid for pid in prompt_ids if pid not in self._counted]
            self._counted.update(fresh)
            if fresh:
                self._task.advance(len(fresh))

    def summary(self) -> str | None:
        """One closing line when anything was retried or failed; ``None`` otherwise."""
        if not (self.retries or self.failed):
            return None
        return f"requests: {self.retries} retried attempt(s), {self.failed} request(s) failed for good"

    def _line(self, message: str) -> None:
        self._lines += 1
        if self._lines <= _MAX_LINES:
            self._progress.log(message)
        elif self._lines == _MAX_LINES + 1:
            self._progress.log("further retries and failures are counted but not shown")


def _short(reason: str) -> str:
    flat = " ".join(reason.split())
    return flat if len(flat) <= _REASON_CHARS else flat[: _REASON_CHARS - 1] + "…"


def common_errors(*, generations: Iterable[Generation], limit: int = 3, skip: str = "") -> str:
    """``'6× "HTTP 400: …"; 2× "timed out…"'``: the ``limit`` most frequent error reasons (first seen wins
    ties), empty when nothing failed. ``skip`` leaves out a reason (e.g. "not generated")."""
    counts = Counter(_short(g.error) for g in generations if g.error and g.error != skip)
    return "; ".join(f'{n}× "{reason}"' for reason, n in counts.most_common(limit))
