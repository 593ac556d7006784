"""Template globals that render the recurring parts of a digest's paper rows once and reuse them.

A day's digests draw on a few hundred papers, each sent to many readers, and most of a paper's
row is the same for all of them. `OncePerPaper` keeps what depends on the paper alone (title,
authors, meta line, links). `OncePerRow` keeps a whole row, keyed on the paper and on which
reader-specific parts it has; those parts (the highlighted excerpt, the why line, the feedback and
steering links with the reader's signed token, their labels) are left as slots and filled in,
escaped as the template would escape them, per digest.
Both are bounded: the cache starts over past `size` entries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

from service.digest.paper_view import Link, PaperFacts, PaperView
from service.digest.shared_views import VIEWS_KEPT


class OncePerPaper:
    """Template global `once_per_paper(macro, facts)`: macro(facts), rendered once per paper.

    A digest's rows are mostly the same for everyone who gets that paper: the title, authors,
    excerpt and links. Macros that see only PaperFacts render those parts once, and every
    later digest reuses the markup.
    """

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self._rendered: dict[tuple[object, PaperFacts], str] = {}

    def __call__(self, macro: Callable[[PaperFacts], str], facts: PaperFacts) -> str:
        key = (macro, facts)  # a macro of an imported template is one object per environment
        rendered = self._rendered.get(key)
        if rendered is None:
            if len(self._rendered) >= self.size:
                self._rendered.clear()
            rendered = self._rendered[key] = macro(facts)
        return rendered


class OncePerView:
    """Template global `once_per_view(macro, paper)`: macro(paper), rendered once per shared
    PaperView (one view for every reader who gets the paper the same way, PaperView.shared),
    every time for any other. Kept by the view's identity, the view held with its text so
    its id is not reused while the entry lives."""

    def __init__(self, size: int = VIEWS_KEPT) -> None:
        self.size = size
        self._kept: dict[tuple[object, int], tuple[PaperView, str]] = {}

    def __call__(self, macro: Callable[[PaperView], str], paper: PaperView) -> str:
        if not paper.shared:
            return macro(paper)
        return self.kept(macro, paper, lambda: macro(paper))

    def kept(self, what: object, paper: PaperView, make: Callable[[], str]) -> str:
        """make() the first time for `what` (hashable, e.g. the macro) and this shared view."""
        key = (what, id(paper))
        found = self._kept.get(key)
        if found is not None and found[0] is paper:
            return found[1]
        if len(self._kept) >= self.size:
            self._kept.clear()
        text = make()
        self._kept[key] = (paper, text)
        return text


@dataclass(frozen=True, slots=True)
class RowView:
    """All a row macro (paper_row, compact_row) may read of a paper. `OncePerRow` keys its
    cache on the facts and on which of the others are there; their values are slots."""

    facts: PaperFacts
    links: tuple[Link, ...]  # facts.links
    excerpt: str  # "" or a slot: the highlighted excerpt's markup (excerpt_markup(parts))
    why: str  # "" or a slot
    feedback_up: str  # "" or a slot
    feedback_down: str
    steer_links: tuple[Link, ...]  # a slot for each label and URL


# A slot stands for the n-th per-reader value of a row while the row is rendered for the
# cache. Control characters never reach a row's text (clean_text drops them, safe_url refuses
# them), so a slot cannot be confused with anything the paper or the reader's labels say.
# The letter makes a filter that would change the value (upper, truncate, ...) break the slot
# instead, which _render refuses: a row macro must show each slot as it is.
_SLOT = re.compile("\x00s([0-9]+)\x00")


def _slot(index: int) -> str:
    return f"\x00s{index}\x00"


class OncePerRow:
    """Template global `once_per_row(macro, paper, excerpt_markup)`: macro(RowView) for a
    PaperView, the row rendered once per macro, paper, and which per-reader parts it has
    (excerpt, why line, feedback links, how many steering links), with slots where those parts
    go. Each call fills the slots with this reader's values, escaped as the template escapes
    them; the highlighted excerpt is excerpt_markup(paper.excerpt_parts), rendered once per
    set of parts. A shared view's row (PaperView.shared: one view for many readers) is kept
    whole, slots filled.
    """

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self._rows: dict[tuple[object, ...], tuple[tuple[str, ...], tuple[int, ...]]] = {}
        self._excerpts: dict[tuple[object, ...], str] = {}
        self._shared = OncePerView()  # a shared view's whole row, slots filled

    def __call__(
        self,
        macro: Callable[[RowView], str],
        paper: PaperView,
        excerpt_markup: Callable[[tuple[tuple[str, bool], ...]], str],
    ) -> Markup:
        if not paper.shared:
            return self._filled(macro, paper, excerpt_markup)
        row = self._shared.kept(
            (macro, excerpt_markup), paper, lambda: self._filled(macro, paper, excerpt_markup)
        )
        return row  # type: ignore[return-value]  # what _filled made: Markup

    def _filled(
        self,
        macro: Callable[[RowView], str],
        paper: PaperView,
        excerpt_markup: Callable[[tuple[tuple[str, bool], ...]], str],
    ) -> Markup:
        """The row from the cached texts and slots, filled with this paper's values."""
        parts, steer = paper.excerpt_parts, paper.steer_links
        key = (
            macro, paper.facts, bool(parts), bool(paper.why), bool(paper.feedback_up),
            bool(paper.feedback_down), len(steer),
        )  # fmt: skip
        found = self._rows.get(key)
        if found is None:
            if len(self._rows) >= self.size:
                self._rows.clear()
            found = self._rows[key] = self._render(macro, paper)
        texts, slots = found
        excerpt = ""
        if parts:
            excerpt_key = (excerpt_markup, parts)
            excerpt = self._excerpts.get(excerpt_key)  # type: ignore[assignment]
            if excerpt is None:
                if len(self._excerpts) >= self.size:
                    self._excerpts.clear()
                excerpt = self._excerpts[excerpt_key] = Markup(excerpt_markup(parts))
        values = [paper.feedback_up, paper.feedback_down, excerpt, paper.why]
        for link in steer:
            values += (link.label, link.url)
        out = [texts[0]]
        for index, text in zip(slots, texts[1:], strict=True):
            out += (escape(values[index]), text)
        return Markup("".join(out))

    @staticmethod
    def _render(
        macro: Callable[[RowView], str], paper: PaperView
    ) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """The row with slots: (the texts between them, the value index of each slot)."""
        row = RowView(
            facts=paper.facts,
            links=paper.facts.links,
            excerpt=_slot(2) if paper.excerpt_parts else "",
            why=_slot(3) if paper.why else "",
            feedback_up=_slot(0) if paper.feedback_up else "",
            feedback_down=_slot(1) if paper.feedback_down else "",
            steer_links=tuple(
                Link(_slot(4 + 2 * i), _slot(5 + 2 * i)) for i in range(len(paper.steer_links))
            ),
        )
        pieces = _SLOT.split(str(macro(row)))
        texts, slots = tuple(pieces[::2]), tuple(int(index) for index in pieces[1::2])
        if any("\x00" in text for text in texts):
            raise ValueError(f"{macro!r} must show each per-reader value of its row as it is")
        return texts, slots
