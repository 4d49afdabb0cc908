"""The ``auditkit`` command: a thin typer layer over the Python API.

Each command lives in its own module and registers itself on ``app``; this module only wires them and
turns ``AuditkitError`` into a one-paragraph message and its exit code (no traceback for user errors).
Heavy libraries are imported inside command bodies so ``auditkit --help`` starts instantly.
"""

from __future__ import annotations

import importlib
import sys

import typer

from auditkit.errors import AuditkitError

__all__ = ["app", "main"]

app = typer.Typer(
    name="auditkit",
    help="Audit generative models for bias, toxicity, memorization and energy cost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines its commands with @app.command / app.add_typer on import.
_COMMAND_MODULES = (
    "auditkit.cli.run",
    "auditkit.cli.prompts",
    "auditkit.cli.suites",
    "auditkit.cli.plugins",
    "auditkit.cli.report",
    "auditkit.cli.gate",
)

for _module in _COMMAND_MODULES:
    importlib.import_module(_module)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script. Returns (and exits with) the exit code."""
    try:
        # Standalone mode lets click report usage errors itself (message + exit 2) through SystemExit;
        # typer vendors its own click, so its exception classes cannot be matched from here.
        app(args=argv, standalone_mode=True)
        code = 0
    except AuditkitError as error:
        typer.echo(f"auditkit: {error}", err=True)
        code = error.exit_code
    except KeyboardInterrupt:
        typer.echo("auditkit: interrupted; finished work is in the cache and a rerun resumes it.", err=True)
        code = 130
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    if argv is None:
        sys.exit(code)
    return code
