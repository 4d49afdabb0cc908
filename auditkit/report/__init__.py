"""The HTML report of a run directory: :func:`render_report` writes ``report.html`` from results.json
and the rows it needs from outputs.jsonl; :func:`load_results` reads results.json with clear errors.

Both are re-exported from :mod:`auditkit.report.render`; the pieces are :mod:`~auditkit.report.context`
(the template's context), :mod:`~auditkit.report.evidence` (streaming outputs.jsonl),
:mod:`~auditkit.report.summary` (the verdict, findings, limits and not-tested lists in plain words, also
behind :mod:`~auditkit.report.markdown`), :mod:`~auditkit.report.figures` (the charts, inline SVG),
:mod:`~auditkit.report.baseline` (comparison with a baseline run), :mod:`~auditkit.report.manifest` (the
reproducibility tables) and :mod:`~auditkit.report.risk` (NIST AI 600-1 / EU AI Act mapping). Templates
live in ``reports/``.
"""

from __future__ import annotations

from auditkit.report.render import load_results, render_report

__all__ = ["load_results", "render_report"]
