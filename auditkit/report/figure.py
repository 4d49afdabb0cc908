"""One chart of the report: its heading, a text alternative in words, the inline SVG and a stable key."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

__all__ = ["Figure"]


@dataclass(frozen=True, slots=True)
class Figure:
    """A chart ready to place: ``svg`` is ``Markup`` (its text already escaped), the rest plain text."""

    title: str
    """Heading text."""
    alt: str
    """What the chart shows, in words, with the numbers that matter (also the SVG's ``<desc>``)."""
    svg: Markup
    """Inline ``<svg role="img" aria-labelledby=...>`` with ``<title>`` and ``<desc>``."""
    key: str
    """Stable id, e.g. ``bias-forest-gender-toxic``; the SVG's element ids derive from it, so place each
    figure once per page."""
