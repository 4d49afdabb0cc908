"""The run engine: plan → generate (batched, cached, resumable) → score → aggregate → write.

:func:`run_audit` runs one :class:`AuditRequest` and returns an :class:`AuditResult` (re-exported here
from :mod:`auditkit.engine.run`); most callers use :func:`auditkit.audit`, which wraps it.
The stages live in their own modules: :mod:`~auditkit.engine.plan` (prompts and decoding configs),
:mod:`~auditkit.engine.cache` (SQLite cache of generations and scores),
:mod:`~auditkit.engine.executor` / :mod:`~auditkit.engine.ray_executor` (where batches run),
:mod:`~auditkit.engine.analysis` (scoring and aggregation), :mod:`~auditkit.engine.manifest` and
:mod:`~auditkit.engine.results` (the run directory's files), :mod:`~auditkit.engine.progress` (stderr).
"""

from __future__ import annotations

from auditkit.engine.run import AuditRequest, AuditResult, run_audit

__all__ = ["AuditRequest", "AuditResult", "run_audit"]
