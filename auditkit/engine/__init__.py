"""The run engine: plan → generate (batched, cached, resumable) → score → aggregate → write.

:mod:`~auditkit.engine.run` holds the named stages, which :func:`auditkit.api.run_audit` composes (and
then calls the gate and the report) for an :class:`AuditRequest`, returning an :class:`AuditResult`;
most callers use :func:`auditkit.audit`, which wraps it. The rest lives in its own modules:
:mod:`~auditkit.engine.plan` (prompts and decoding configs),
:mod:`~auditkit.engine.cache` (SQLite cache of generations and scores),
:mod:`~auditkit.engine.executor` / :mod:`~auditkit.engine.ray_executor` (where batches run),
:mod:`~auditkit.engine.analysis` (scoring and aggregation), :mod:`~auditkit.engine.manifest` and
:mod:`~auditkit.engine.results` (the run directory's files), :mod:`~auditkit.engine.progress` (stderr).
"""

from __future__ import annotations

from auditkit.engine.plan import AuditRequest
from auditkit.engine.run_records import AuditResult

__all__ = ["AuditRequest", "AuditResult"]
