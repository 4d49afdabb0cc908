"""Prompt sources: what the suite argument of ``auditkit run`` / ``prompts`` / ``suites show|validate`` names.

Built in: YAML suites (``bias``, ``./mine.yaml``, or ``suite:REF``), ``rtp:FILE`` (RealToxicityPrompts)
``corpus:FILE`` (memorization passages; ``--corpus FILE``), and the likelihood benchmarks
``crows_pairs:FILE`` (CrowS-Pairs CSV) and ``stereoset:FILE`` (StereoSet dev.json). Plugins register more under the
entry-point group ``auditkit.prompt_sources``; see ``auditkit.sources.base`` for the protocol.
"""

from __future__ import annotations

from auditkit.sources.base import (
    DEFAULT_SCHEME,
    LoadedSource,
    PromptSource,
    PromptSourceFactory,
    load_sources,
    open_source,
    prompt_sources,
    split_reference,
)

__all__ = [
    "DEFAULT_SCHEME",
    "LoadedSource",
    "PromptSource",
    "PromptSourceFactory",
    "load_sources",
    "open_source",
    "prompt_sources",
    "split_reference",
]
