"""The exception tree. Each error knows its exit code; the CLI prints ``str(error)`` and exits with it.

Messages are written for the person at the terminal: what is wrong, where (file, line, field), and what
to do. Exit codes are a contract (see README): 1 gate failed, 2 usage/configuration/input, 3 the run
could not complete.
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "AuditkitError",
    "CacheError",
    "ConfigError",
    "ErrorBudgetExceeded",
    "GateFailed",
    "InputError",
    "PluginNotFound",
    "RunIncomplete",
    "SuiteError",
]


class AuditkitError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(AuditkitError):
    """A bad option, model spec, policy or analyzer setting (exit 2)."""


class InputError(AuditkitError):
    """A bad input file: corpus, replay file, prompt file (exit 2). Name the file and line."""


class SuiteError(InputError):
    """A suite that does not load, validate or render (exit 2). Names the file and line."""


class PluginNotFound(ConfigError):
    """An adapter/analyzer name nobody registered (exit 2); the message suggests close names."""


class CacheError(ConfigError):
    """The cache file cannot be used (corrupt, locked, wrong schema) (exit 2); says how to get out."""


class AdapterError(AuditkitError):
    """The model cannot be loaded or reached at all (exit 2 when it is the user's setup)."""


class RunIncomplete(AuditkitError):
    """The run could not complete (exit 3); partial results were written."""

    exit_code = 3


class ErrorBudgetExceeded(RunIncomplete):
    """More generations or scores failed than ``--max-error-rate`` allows (exit 3)."""


class GateFailed(AuditkitError):
    """The policy gate failed (exit 1); results were written."""

    exit_code = 1
