"""Model adapters: what turns prompts into generations, one module per ``--model`` scheme.

The seam (re-exported here, defined in :mod:`auditkit.adapters.base`): the :class:`Adapter` protocol, the
``adapters`` registry that factories register on (``@adapters.register("scheme")``, or the
``auditkit.adapters`` entry-point group for plugin packages), :func:`parse_model_spec` and
:func:`build_adapter`.

Built-in schemes, each in its own module and imported only when named (heavy libraries load inside
the factory): :mod:`~auditkit.adapters.hf` (``hf:``, with :mod:`~auditkit.adapters.hf_decoding`),
:mod:`~auditkit.adapters.bundled` (``smollm2``), :mod:`~auditkit.adapters.openai` (``openai:``),
:mod:`~auditkit.adapters.replay` (``replay:``), :mod:`~auditkit.adapters.python` (``python:``) and
:mod:`~auditkit.adapters.mock` (``mock:``, test doubles). :mod:`~auditkit.adapters.weights` hashes
model files for cache keys.
"""

from __future__ import annotations

from auditkit.adapters.base import (
    Adapter,
    AdapterFactory,
    AdapterIdentity,
    ModelSpec,
    adapters,
    build_adapter,
    parse_model_spec,
)

__all__ = [
    "Adapter",
    "AdapterFactory",
    "AdapterIdentity",
    "ModelSpec",
    "adapters",
    "build_adapter",
    "parse_model_spec",
]
