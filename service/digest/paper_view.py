"""One paper as the email templates see it: cleaned display strings and vetted links.

`paper_view` builds a PaperView per paper and digest; the parts that depend on the paper alone
(title, authors, meta line, excerpt, links) are PaperFacts, built once per paper and process.
The excerpt's topic words are marked from the ranker's reasons (`matched_words`, `highlight`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from service.digest.text import (
    clean_text,
    links_lines,
    paper_date,
    plural,
    safe_url,
    truncate,
)
from service.ranking.reason_labels import label_words
from service.records import Candidate, DigestLinks, Reason, ScoredPaper

EXCERPT_CHARS = 400
EXCERPT_SENTENCES = 3
MAX_AUTHORS = 3

_SOURCE_NAMES = {
    "arxiv": "arXiv",
    "hf": "Hugging Face",
    "huggingface": "Hugging Face",
    "hf_daily": "Hugging Face",
    "pwc": "Papers with Code",
    "paperswithcode": "Papers with Code",
    "file": "",  # the default for a hand-fed listing file: tells the reader nothing
}

# A sentence ends at . ! or ? followed by space and something that starts a new sentence.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or the to via vs with".split()
)


@dataclass(frozen=True, slots=True)
class Link:
    """A labelled, already vetted http(s) link."""

    label: str
    url: str


# eq=False: identity equality and hashing, so the fragment cache's lookups cost nothing; the
# lru_cache below hands out one PaperFacts per paper.
@dataclass(frozen=True, slots=True, eq=False)
class PaperFacts:
    """The parts of a PaperView that depend on the paper alone, not on who receives it."""

    title: str
    url: str
    authors: str
    meta: tuple[str, ...]
    meta_line: str
    excerpt: str
    links: tuple[Link, ...]
    text_links: tuple[Link, ...]
    arxiv_id: str  # "2511.00001" ("" when not an arXiv paper)
    category: str  # the primary category, "cs.LG" ("" when none)
    compact_line: str  # the one line under the title in the compact layout
    compact_links: tuple[Link, ...]  # the PDF only (or the first link): the compact layout's


@dataclass(frozen=True, slots=True)
class PaperView:
    """One paper as the templates see it: display strings, vetted URLs ("" when none).

    Its place in the digest is the template loop's (``loop.index``), not the view's: a view
    can serve every reader who gets the paper with the same reasons and links (``shared``)."""

    title: str
    url: str  # where the title links: abstract, else PDF, code or project page
    authors: str
    meta: tuple[str, ...]  # sources, date, author count, upvotes, stars
    meta_line: str  # the same joined with " · "
    excerpt: str
    excerpt_parts: tuple[tuple[str, bool], ...]  # (text, matched a topic word) in order
    reasons: tuple[str, ...]
    why: str  # the reasons joined with "; "
    links: tuple[Link, ...]  # PDF / code / project page, shown under the paper
    text_links: tuple[Link, ...]  # the same plus the abstract, spelled out in the text part
    feedback_up: str
    feedback_down: str
    facts: PaperFacts  # what every subscriber sees the same: once_per_paper() fragments
    compact: bool = False  # past FULL_PAPERS: title, one line and links only
    text_line: str = ""  # the text part's links: 'Abstract: URL · PDF: URL · More like this: URL'
    section: str = ""  # the reader's interest it was picked for ("": they have one)
    steer_links: tuple[Link, ...] = ()  # "Mute Jane Doe", "Not interested in “fuzzing”"
    # Built once for many readers, with a stand-in for their token (shared_views.SharedViews):
    # its HTML row and text lines are rendered once too (fragments.OncePerRow, OncePerView).
    shared: bool = False


def marker(number: int) -> str:
    """'1.  ': a paper's number as the text part's hanging-indent prefix."""
    return f"{number}.".ljust(4)


def excerpt(paper: Candidate, limit: int = EXCERPT_CHARS) -> str:
    """The AI summary if there is one, else the abstract's first sentences; at most `limit`."""
    summary = clean_text(paper.ai_summary)
    if summary:
        return truncate(summary, limit)
    # Only the first `limit` characters can be kept, so split no further than twice that:
    # a piece cut short there ends past `limit` and is never taken.
    sentences = _SENTENCE_BREAK.split(clean_text(paper.abstract)[: 2 * limit])
    taken = sentences[0]
    for sentence in sentences[1:EXCERPT_SENTENCES]:
        if len(taken) + 1 + len(sentence) > limit:
            break
        taken = f"{taken} {sentence}"
    return truncate(taken, limit)


def authors_line(paper: Candidate) -> str:
    """'A, B, C et al.' past three names (or when the list is known to be partial)."""
    names = [name for name in map(clean_text, paper.authors) if name]
    if not names:
        return ""
    total = max(len(names), paper.author_count or 0)
    if total > len(names[:MAX_AUTHORS]):
        return ", ".join(names[:MAX_AUTHORS]) + " et al."
    return ", ".join(names)


def source_name(source: str) -> str:
    """Display name of a source key: 'arxiv' -> 'arXiv', 'file' -> '' (hidden), others as given."""
    text = clean_text(source)
    return _SOURCE_NAMES.get(text.casefold(), text)


def arxiv_id(paper: Candidate) -> str:
    """The paper's arXiv id, from its field or its 'arxiv:' key; "" when it has none."""
    value = clean_text(paper.arxiv_id)
    if not value and paper.key.startswith("arxiv:"):
        value = clean_text(paper.key.removeprefix("arxiv:"))
    return value


def meta_items(paper: Candidate) -> tuple[str, ...]:
    """arXiv id, primary category, sources, publication date, author count (when names are
    unknown), upvotes, stars."""
    items: list[str] = []
    identifier = arxiv_id(paper)
    if identifier:
        items.append(f"arXiv:{identifier}")
    category = clean_text(paper.categories[0]) if paper.categories else ""
    if category:
        items.append(category)
    sources = list(dict.fromkeys(name for name in map(source_name, paper.sources) if name))
    if sources:
        items.append(", ".join(sources))
    if paper.published:
        items.append(paper_date(paper.published))
    if not any(map(clean_text, paper.authors)) and paper.author_count:
        items.append(plural(paper.author_count, "author"))
    if paper.upvotes is not None:
        items.append(plural(paper.upvotes, "upvote"))
    if paper.stars is not None:
        items.append(plural(paper.stars, "star"))
    return tuple(items)


# A day's digests draw on a few hundred candidate papers, each sent to many subscribers: clean
# and vet each paper once per process rather than once per digest. Keyed by the whole (frozen)
# Candidate, so an updated paper is a new entry; bounded so a long-running server stays small.
@functools.lru_cache(maxsize=4096)
def _paper_facts(paper: Candidate) -> PaperFacts:
    abstract = safe_url(paper.abstract_url)
    extra = tuple(
        Link(label, url)
        for label, url in (
            ("PDF", safe_url(paper.pdf_url)),
            ("Code", safe_url(paper.code_url)),
            ("Project page", safe_url(paper.project_url)),
        )
        if url
    )
    meta = meta_items(paper)
    authors = authors_line(paper)
    category = clean_text(paper.categories[0]) if paper.categories else ""
    identifier = arxiv_id(paper)
    short = [f"arXiv:{identifier}"] if identifier else []
    short += [category] if category else []
    return PaperFacts(
        title=clean_text(paper.title) or "(untitled)",
        url=abstract or next((link.url for link in extra), ""),
        authors=authors,
        meta=meta,
        meta_line=" · ".join(meta),
        excerpt=excerpt(paper),
        links=extra,
        text_links=((Link("Abstract", abstract),) if abstract else ()) + extra,
        arxiv_id=identifier,
        category=category,
        compact_line=" · ".join([*short, *([truncate(authors, 60)] if authors else [])]),
        compact_links=extra[:1],
    )


@functools.lru_cache(maxsize=4096)
def _reason_labels(reasons: tuple[Reason, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(label for label in (clean_text(r.label) for r in reasons) if label))


@functools.lru_cache(maxsize=4096)
def matched_words(reasons: tuple[Reason, ...]) -> tuple[str, ...]:
    """The topic words the reasons say the paper matched (casefolded, stopwords dropped).

    A stored reason keeps only its label, so the words come from the label when the terms are
    gone. Meaning matches, categories, authors and trending name no words in the excerpt.
    """
    words: list[str] = []
    for reason in reasons:
        found = label_words(clean_text(reason.label))
        if found is None:
            continue
        topic, listed = found
        words.extend(reason.terms or listed or topic.split())
    cleaned = (word.strip(" \"'“”‘’()[]{}.,;:!?").casefold() for word in words)
    return tuple(dict.fromkeys(w for w in cleaned if len(w) > 2 and w not in _STOPWORDS))


@functools.lru_cache(maxsize=4096)
def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled pattern per set of matched words, kept: the same sets recur across a day's
    digests, and re's own cache (512 patterns, shared with every other module) kept missing."""
    alternatives = "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
    return re.compile(rf"(?<!\w)(?:{alternatives})[\w-]*", re.IGNORECASE)


@functools.lru_cache(maxsize=16384)
def highlight(text: str, words: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """`text` cut into (piece, is a matched word) parts: each word that starts with one of
    `words` (so "model" also marks "models"), case-insensitively."""
    if not text or not words:
        return ((text, False),) if text else ()
    pattern = _words_pattern(words)
    parts: list[tuple[str, bool]] = []
    position = 0
    for found in pattern.finditer(text):
        if found.start() > position:
            parts.append((text[position : found.start()], False))
        parts.append((found.group(), True))
        position = found.end()
    if position < len(text):
        parts.append((text[position:], False))
    return tuple(parts)


@functools.lru_cache(maxsize=16384)
def _reader_parts(
    facts: PaperFacts, reasons: tuple[Reason, ...]
) -> tuple[tuple[str, ...], str, tuple[tuple[str, bool], ...]]:
    """A paper's reasons as shown, the why line and the highlighted excerpt: the same for each
    of its readers with the same reasons (facts hash by identity, one per paper)."""
    labels = _reason_labels(reasons)
    return labels, "; ".join(labels), highlight(facts.excerpt, matched_words(reasons))


@functools.lru_cache(maxsize=16384)
def _steer_label(label: str) -> str:
    return clean_text(label)


class _FactsOf:
    """_paper_facts by the Candidate object itself: a batch's digests share one Candidate per
    paper, and hashing and comparing its ~20 fields for the lru_cache costs more than the
    lookup. Holds each Candidate it maps, so an id is never reused while its entry lives."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._facts: dict[int, tuple[Candidate, PaperFacts]] = {}

    def __call__(self, paper: Candidate) -> PaperFacts:
        found = self._facts.get(id(paper))
        if found is not None and found[0] is paper:
            return found[1]
        if len(self._facts) >= self.size:
            self._facts.clear()
        facts = _paper_facts(paper)
        self._facts[id(paper)] = (paper, facts)
        return facts


facts_of = _FactsOf()


def paper_view(
    scored: ScoredPaper, links: DigestLinks, *, compact: bool = False, shared: bool = False
) -> PaperView:
    """Everything the templates show for one paper, with untrusted fields cleaned and vetted."""
    facts = facts_of(scored.paper)
    up, down = links.feedback.get(scored.paper.paper_id, ("", ""))
    up, down = safe_url(up), safe_url(down)
    steer = tuple(
        Link(_steer_label(label), url)
        for label, raw in links.steer.get(scored.paper.paper_id, ())
        if (url := safe_url(raw))
    )
    reasons, why, excerpt_parts = _reader_parts(facts, scored.reasons)
    return PaperView(
        title=facts.title,
        url=facts.url,
        authors=facts.authors,
        meta=facts.meta,
        meta_line=facts.meta_line,
        excerpt=facts.excerpt,
        excerpt_parts=() if compact else excerpt_parts,
        reasons=reasons,
        why=why,
        links=facts.links,
        text_links=facts.text_links,
        feedback_up=up,
        feedback_down=down,
        facts=facts,
        compact=compact,
        section=clean_text(scored.interest or ""),
        text_line=links_lines(
            [
                *((link.label, link.url) for link in facts.text_links),
                *((("More like this", up),) if up else ()),
                *((("Less like this", down),) if down else ()),
                *((link.label, link.url) for link in steer),
            ]
        ),
        steer_links=steer,
        shared=shared,
    )
