"""Progress of a run on stderr: rich bars with ETA on a terminal, plain lines otherwise, nothing when quiet.

Plain lines (CI logs, pipes) are throttled so a 100k-prompt run does not print 100k lines.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

__all__ = ["Progress", "ProgressTask"]

_LINE_INTERVAL_S = 5.0


class ProgressTask:
    """One stage (generating, scoring toxicity...) with a known total."""

    def __init__(self, *, owner: Progress, description: str, total: int, handle: Any = None) -> None:
        self._owner = owner
        self.description = description
        self.total = total
        self.completed = 0
        self._handle = handle
        self._start = time.monotonic()
        self._last_line = 0.0
        self._lock = threading.Lock()  # remote adapters advance from their own thread

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._advance(n)

    def _advance(self, n: int) -> None:
        self.completed += n
        if self._handle is not None:
            self._owner._bars.update(self._handle, advance=n)
        elif self._owner.mode == "lines":
            now = time.monotonic()
            if now - self._last_line >= _LINE_INTERVAL_S or self.completed >= self.total:
                self._last_line = now
                self._owner.log(self._line(now))

    def _line(self, now: float) -> str:
        elapsed = now - self._start
        pct = 100.0 * self.completed / self.total if self.total else 100.0
        eta = ""
        if 0 < self.completed < self.total:
            eta = f", eta {elapsed / self.completed * (self.total - self.completed):.0f}s"
        return f"{self.description}: {self.completed}/{self.total} ({pct:.0f}%, {elapsed:.0f}s{eta})"

    def finish(self) -> None:
        if self._handle is not None:
            self._owner._bars.update(
                self._handle, completed=min(self.total, self.completed)
            )
            self._owner._bars.stop_task(self._handle)


class Progress:
    """Use as a context manager; ``mode`` is ``bars``, ``lines`` or ``quiet``."""

    def __init__(self, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.mode = "quiet" if quiet else ("bars" if is_tty else "lines")
        self._bars: Any = None

    def __enter__(self) -> Progress:
        if self.mode == "bars":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bars = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def task(self, *, description: str, total: int) -> ProgressTask:
        handle = self._bars.add_task(description, total=total) if self._bars is not None else None
        if self.mode == "lines":
            self.log(f"{description}: 0/{total}")
        return ProgressTask(owner=self, description=description, total=total, handle=handle)

    def log(self, message: str) -> None:
        """An informational line (silent when quiet)."""
        if self.mode == "quiet":
            return
        if self._bars is not None:
            self._bars.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        """A warning: shown even when quiet."""
        if self._bars is not None:
            self._bars.console.print(f"warning: {message}", markup=False, highlight=False)
        else:
            print(f"auditkit: warning: {message}", file=self.stream, flush=True)
