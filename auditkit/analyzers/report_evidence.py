"""How an analyzer's outputs are shown in its report section, declared on the analyzer's class.

The report lists the outputs behind each finding for every analyzer. Some analyzers need more: toxicity's
texts may be offensive, so its whole section hides them behind content warnings; memorization's readers
want the outputs with the longest copied prefix, and a table of the passages its findings cite with how
much of each was reproduced. An analyzer says so once, on itself, and the report follows — for a plugin
exactly as for a built-in::

    class MemorizationAnalyzer:
        report_evidence = ReportEvidence(
            top_scores=("edit_similarity", "lcp"),
            cited_columns=(("lcp", "Common prefix (tokens)"), ("edit_similarity", "Edit similarity")),
            cited_caption="Extracted passages (outputs cited by memorization findings)",
        )
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReportEvidence"]


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """What an analyzer's report section shows of its outputs, beyond each finding's evidence."""

    sensitive: bool = False
    """Its outputs may be offensive: every text in its section is behind a content warning."""
    top_scores: tuple[str, ...] = ()
    """Its per-output score names (``toxicity``, not ``toxicity.toxicity``) whose highest-scoring outputs
    the section lists, in this order."""
    cited_columns: tuple[tuple[str, str], ...] = ()
    """``(score name, heading)``: a table of the outputs its findings cite, one column per score."""
    cited_caption: str = ""
    """The caption of that table."""
