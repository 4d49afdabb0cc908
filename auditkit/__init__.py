"""auditkit: responsible-AI audits of generative models — bias, toxicity, memorization and energy.

``import auditkit`` stays light (no torch, no pandas): the public names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AuditRequest",
    "AuditResult",
    "RunResults",
    "__version__",
    "audit",
    "load_results",
]

_LAZY = {
    "AuditRequest": "auditkit.api",
    "AuditResult": "auditkit.api",
    "RunResults": "auditkit.api",
    "audit": "auditkit.api",
    "load_results": "auditkit.api",
}

if TYPE_CHECKING:
    from auditkit.api import AuditRequest, AuditResult, RunResults, audit, load_results


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'auditkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
