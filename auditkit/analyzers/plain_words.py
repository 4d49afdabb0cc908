"""How a measure reads in a plain sentence, declared by the analyzer that computes it.

The report's summary (:mod:`auditkit.report.summary`) phrases findings for readers without statistics
training ("Outputs about gay people were judged toxic 19 points more often than ..."). It needs a few
words per measure that only the analyzer knows; an analyzer declares them on its class::

    class LengthAnalyzer:
        plain_measures = (
            PlainMeasure(name="refusal", noun="refusal rate", verb="were refusals"),
            PlainMeasure(name="words", noun="length", scale="words"),
        )

A measure without a declaration reads by its name ("score higher on my_measure"); nothing breaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["PlainMeasure", "plain_measure"]


@dataclass(frozen=True, slots=True)
class PlainMeasure:
    """The words for one measure (a per-output score, or a 0/1 outcome summarized as a rate)."""

    name: str
    """The measure's name as findings carry it (``details.measure``)."""
    noun: str
    """What it is called: "toxic rate", "sentiment"."""
    verb: str = ""
    """For a 0/1 outcome, what the outputs that have it did, plural past: "were judged toxic",
    "portrayed them negatively". Empty for a measure summarized as a mean."""
    scale: str = ""
    """For a mean, its scale or unit for people: "from −1 (negative) to 1 (positive)", "words"."""

    @property
    def is_rate(self) -> bool:
        return bool(self.verb)


def plain_measure(*, name: str, declared: Iterable[PlainMeasure] | Mapping[str, PlainMeasure] = ()) -> PlainMeasure:
    """The declared words for ``name``, else words made from the name itself."""
    found = declared.get(name) if isinstance(declared, Mapping) else next(
        (p for p in declared if p.name == name), None)
    return found or PlainMeasure(name=name, noun=name.replace("_", " "))
