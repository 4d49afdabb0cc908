"""Read a rendered report's structure the way a reader meets it: what is visible without a click.

An HTML parser (the standard library's) walks the page keeping a stack of the open ``<details>`` that are
closed (no ``open`` attribute): whatever sits inside one is hidden until the reader opens it. The
report's layout tests count table rows and find the first chart and table of each section with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["PageStructure", "SectionStructure", "page_structure"]

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr"})


@dataclass
class SectionStructure:
    """One ``<section>`` of the report, as seen without opening anything."""

    id: str
    classes: tuple[str, ...]
    visible_rows: int = 0
    events: list[str] = field(default_factory=list)
    """In document order: "svg" for a visible chart, "table" for a visible table."""

    def chart_before_table(self) -> bool:
        """A visible chart comes before the first visible table (and there is a chart at all)."""
        if "svg" not in self.events:
            return False
        return "table" not in self.events or self.events.index("svg") < self.events.index("table")


@dataclass
class PageStructure:
    visible_rows: int = 0
    hidden_rows: int = 0
    sections: list[SectionStructure] = field(default_factory=list)
    """Top-level sections (those directly in ``<main>``), in document order."""

    def section(self, section_id: str) -> SectionStructure:
        return next(s for s in self.sections if s.id == section_id)

    def order(self) -> list[str]:
        return [s.id for s in self.sections]


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = PageStructure()
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        self.hidden = 0
        self.section_depth = -1
        self.current: SectionStructure | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        a = dict(attrs)
        hides = tag == "details" and "open" not in a
        if tag == "section" and self.current is None:
            self.current = SectionStructure(id=a.get("id") or "", classes=tuple((a.get("class") or "").split()))
            self.page.sections.append(self.current)
            self.section_depth = len(self.stack)
        self.stack.append((tag, hides))
        if hides:
            self.hidden += 1
        visible = self.hidden == 0
        if tag == "tr":
            if visible:
                self.page.visible_rows += 1
                if self.current is not None:
                    self.current.visible_rows += 1
            else:
                self.page.hidden_rows += 1
        elif tag in ("svg", "table") and visible and self.current is not None:
            self.current.events.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        return  # self-closing SVG shapes: nothing to count

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # Pop to the matching tag (HTML allows some end tags to be left out, e.g. </p>, </li>).
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                for _, hides in self.stack[depth:]:
                    self.hidden -= hides
                del self.stack[depth:]
                if tag == "section" and depth == self.section_depth:
                    self.current = None
                    self.section_depth = -1
                return


def page_structure(html: str) -> PageStructure:
    """Visible and hidden table rows, and each top-level section's visible charts and tables in order."""
    walker = _Walker()
    walker.feed(html)
    walker.close()
    return walker.page
