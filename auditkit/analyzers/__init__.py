"""Analyzers: score each output (batched), then aggregate the scores into metrics and findings.

The seam (re-exported here, defined in :mod:`auditkit.analyzers.base`): the :class:`Analyzer` protocol,
the records it works on (:class:`Observation`, :class:`Analysis`), the ``analyzers`` registry that
factories register on (``@analyzers.register("name")``, or the ``auditkit.analyzers`` entry-point group
for plugin packages) and :func:`build_analyzer`.

Built-in analyzers, each imported only when named: :mod:`~auditkit.analyzers.toxicity` (scorers in
:mod:`~auditkit.analyzers.toxicity_backends`), :mod:`~auditkit.analyzers.bias` (with ``bias_measures``,
``bias_compare``, ``bias_report`` and ``representation``), :mod:`~auditkit.analyzers.memorization`
(with ``extraction``, ``pii`` and ``canaries``) and :mod:`~auditkit.analyzers.energy`.
:mod:`~auditkit.analyzers.rtp` reads RealToxicityPrompts files.
"""

from __future__ import annotations

from auditkit.analyzers.base import (
    Analysis,
    Analyzer,
    AnalyzerFactory,
    Observation,
    analyzers,
    build_analyzer,
    caches_scores,
    load_analyzer,
)

__all__ = [
    "Analysis",
    "Analyzer",
    "AnalyzerFactory",
    "Observation",
    "analyzers",
    "build_analyzer",
    "caches_scores",
    "load_analyzer",
]
