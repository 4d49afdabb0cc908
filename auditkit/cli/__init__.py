"""The ``auditkit`` command line: a thin typer layer over the Python API (:mod:`auditkit.api`).

The console script is :func:`auditkit.cli.app.main`; :mod:`~auditkit.cli.app` holds the typer ``app``
and each command registers itself on it from its own module (``run``, ``prompts``, ``suites``,
``plugins``, ``report``, ``gate``). Nothing is re-exported here: importing the package must not import
the commands, and ``auditkit.cli.app`` is the module, not the typer object.
"""

from __future__ import annotations

__all__: list[str] = []
