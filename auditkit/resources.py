"""Where the shipped data lives: built-in suites, report templates, example policies, schemas.

In a wheel they sit under ``auditkit/_data``; in a source checkout (editable install) at the repository
top level (``probes/``, ``reports/``, ``policies/``), where users read and edit them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir", "package_file"]

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The directory of shipped data ``name`` (``probes``, ``reports`` or ``policies``)."""
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / name


def package_file(relative: str) -> Path:
    """A file shipped inside the package itself, e.g. ``schemas/results.schema.json``."""
    return _PACKAGE / relative
