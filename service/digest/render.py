"""Render a Digest into a RenderedDigest (subject, inlined HTML, plain text, preheader).

Rendering is pure apart from reading the templates once: the Renderer builds a view of each
paper in Python (excerpt, author list, links vetted by `safe_url`) and the templates under
templates/email/ only lay it out. Paper data is untrusted: the HTML template autoescapes it,
only http(s) URLs reach an href, and control characters never reach the subject or text.

The CSS is inlined once per Renderer, not once per digest: service/digest/inline.py learns from
premailer which attributes each styled element of the templates gets and compiles them into the
templates, so `render()` is plain Jinja. `render_reference()` is the slow path it must match
(premailer over the whole document); a test compares the two element by element.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from service.digest.inline import (
    LearnedStyles,
    MarkerLoader,
    inline_css,
    learn_styles,
    marker_keys,
    no_marker,
    probe_marker,
)
from service.logs import mask_address
from service.records import (
    Candidate,
    Digest,
    DigestLinks,
    Reason,
    RenderedDigest,
    ScoredPaper,
    Topic,
)

log = logging.getLogger(__name__)

TEXT_WIDTH = 78
EXCERPT_CHARS = 400
EXCERPT_SENTENCES = 3
MAX_AUTHORS = 3
PREHEADER_CHARS = 140
SUBJECT_CHARS = 78
# Gmail clips an HTML part past ~102 KB and hides what follows (the unsubscribe footer): the
# first FULL_PAPERS papers get the full layout, the rest up to LISTED_PAPERS a compact one
# (title, one line, links), and any beyond that are counted with a link to the archive.
FULL_PAPERS = 10
LISTED_PAPERS = 40
# The HTML part's most octets; rows are dropped into the "more in your archive" count past it.
HTML_BUDGET = 88_000
# The text part's links of one paper share a line; past this many octets they take several.
LINK_LINE_OCTETS = 900

HTML_TEMPLATE = "email/digest.html"
TEXT_TEMPLATE = "email/digest.txt"
CSS_FILE = "email/digest.css"

# English names on purpose: strftime's %a/%b follow the process locale and %-d is not portable.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS_LONG = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

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
_SAFE_SCHEMES = frozenset({"http", "https"})
# Unicode category Cc is exactly U+0000–U+001F and U+007F–U+009F; a regex beats a per-character
# unicodedata loop by two orders of magnitude, and every digest runs this on every abstract.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional embedding, override and isolate controls and the direction marks: in paper data
# they only serve to disguise text ("gnp.exe" shown as "exe.png"); dir="auto" handles RTL titles.
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A reason that names words: 'matches "topic"' or 'partly matches "topic" (word, word)'.
# Meaning matches ('close in meaning to "topic": “sentence”') and the rest name no words.
_WORD_REASON = re.compile(r'^(?:partly )?matches "(?P<topic>[^"]+)"(?: \((?P<words>[^)]*)\))?$')
_STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or the to via vs with".split()
)
_UNSAFE_URL_CHAR = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
# http(s)://host[:port][/?#…] with a plain host: urlsplit would accept it, so skip urlsplit.
_PLAIN_HTTP_URL = re.compile(r"(?i:https?)://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#].*)?", re.DOTALL)
QUIET_DAY = "Nothing new for your topics today"  # when the day's paper count is not known
# The preheader's tail: zero-width joiners and spaces that fill the inbox preview's remaining
# room, so clients do not pull body text (the site name, the date) into it.
PREHEADER_PADDING = Markup("&#847;&zwnj;&nbsp;" * 30)


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
    """One paper as the templates see it: display strings, vetted URLs ("" when none)."""

    number: int
    marker: str  # "1.  ", the text part's hanging-indent prefix
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
    scored: ScoredPaper  # the raw record, for templates that want more
    compact: bool = False  # past FULL_PAPERS: title, one line and links only
    text_line: str = ""  # the text part's links: 'Abstract: URL · PDF: URL · More like this: URL'


def safe_url(value: object) -> str:
    """Return `value` if it is an absolute http(s) URL without whitespace or controls, else ""."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    if not url or _UNSAFE_URL_CHAR.search(url):
        return ""
    if _PLAIN_HTTP_URL.fullmatch(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 netloc
        return ""
    if parts.scheme.lower() not in _SAFE_SCHEMES or not parts.hostname:
        return ""
    return url


def clean_text(value: str | None) -> str:
    """Collapse all whitespace to single spaces, drop control and bidi control characters."""
    if not value:
        return ""
    return " ".join(_CONTROL.sub(" ", _BIDI.sub("", value)).split())


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters at a word boundary, ending with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:  # prefer a word boundary unless it throws away too much
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


# Pure, and called with the same paper text for every subscriber who gets that paper.
@functools.lru_cache(maxsize=16384)
def wrap_text(
    text: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None
) -> str:
    """Wrap one paragraph for the text part; long words (URLs) are never broken.

    Greedy filling of the cleaned text's words: the same lines as textwrap.wrap with
    break_long_words=False and break_on_hyphens=False (a test checks), ten times faster.
    """
    first = indent if first is None else first
    words = clean_text(text).split(" ")
    if words == [""]:
        return first.rstrip()
    lines: list[str] = []
    line = [words[0]]
    prefix, used = first, len(first) + len(words[0])
    for word in words[1:]:
        if used + 1 + len(word) <= width:
            line.append(word)
            used += 1 + len(word)
        else:
            lines.append(prefix + " ".join(line))
            line, prefix, used = [word], indent, len(indent) + len(word)
    lines.append(prefix + " ".join(line))
    return "\n".join(lines)


def link_line(url: str, label: str, indent: str = "", width: int = TEXT_WIDTH) -> str:
    """'Label: URL' on one line if it fits, else the URL alone (unbroken) on the next line."""
    line = f"{indent}{label}: {url}"
    if len(line) <= width:
        return line
    return f"{indent}{label}:\n{indent}  {url}"


def short_date(day: dt.date) -> str:
    """'Fri 21 Nov'."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def long_date(day: dt.date) -> str:
    """'Friday 21 November 2025'."""
    return f"{_DAYS_LONG[day.weekday()]} {day.day} {_MONTHS_LONG[day.month - 1]} {day.year}"


def paper_date(day: dt.date) -> str:
    """'21 Nov 2025'."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def plural(count: int, noun: str) -> str:
    """'1 paper', '7 papers', '1,234 stars'."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def period(cadence: str) -> str:
    """'today', or 'this week' for a weekly digest."""
    return "this week" if cadence == "weekly" else "today"


def quiet_line(cadence: str, new_papers: int | None) -> str:
    """What an empty digest says, true to why it is empty: nothing announced, or nothing matched."""
    when = period(cadence)
    if new_papers == 0:
        return f"No new papers were announced {when}"
    if new_papers == 1:
        return f"The one new paper {when} did not match your topics"
    if new_papers:
        return f"None of the {new_papers:,} new papers {when} matched your topics"
    return f"Nothing new for your topics {when}"


def make_subject(site_name: str, digest: Digest) -> str:
    """What is inside, in at most 78 characters and one line: '7 papers: <top paper's title>',
    '7 papers this week: …', or the site name and why there are none."""
    if not digest.papers:
        if digest.cadence == "weekly":
            return truncate(
                clean_text(f"{site_name}: {quiet_line('weekly', digest.new_papers)}"), SUBJECT_CHARS
            )
        note = quiet_line("daily", digest.new_papers).removesuffix(" today")
        return truncate(
            clean_text(f"{site_name}: {note} on {short_date(digest.digest_date)}"), SUBJECT_CHARS
        )
    count = plural(len(digest.papers), "paper")
    if digest.cadence == "weekly":
        count += " this week"
    title = clean_text(digest.papers[0].paper.title) or "(untitled)"
    return truncate(f"{count}: {title}", SUBJECT_CHARS)


def summary_line(count: int, topics: Iterable[Topic]) -> str:
    """'7 papers on reinforcement learning and scaling laws', '7 papers' without keywords,
    or the quiet-day note for 0."""
    if count == 0:
        return QUIET_DAY
    head = plural(count, "paper")
    names: list[str] = []
    seen: set[str] = set()
    for topic in topics:
        text = clean_text(topic.text)
        if topic.kind == "keyword" and text and text.casefold() not in seen:
            seen.add(text.casefold())
            names.append(text)
    if not names:
        return head
    if len(names) > 3:
        names = [*names[:3], plural(len(names) - 3, "more topic")]
    if len(names) == 1:
        return f"{head} on {names[0]}"
    return f"{head} on {', '.join(names[:-1])} and {names[-1]}"


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
        found = _WORD_REASON.match(clean_text(reason.label))
        if found is None:
            continue
        if reason.terms:
            words.extend(reason.terms)
        elif found.group("words"):
            words.extend(found.group("words").split(","))
        else:
            words.extend(found.group("topic").split())
    cleaned = (word.strip(" \"'“”‘’()[]{}.,;:!?").casefold() for word in words)
    return tuple(dict.fromkeys(w for w in cleaned if len(w) > 2 and w not in _STOPWORDS))


@functools.lru_cache(maxsize=16384)
def highlight(text: str, words: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """`text` cut into (piece, is a matched word) parts: each word that starts with one of
    `words` (so "model" also marks "models"), case-insensitively."""
    if not text or not words:
        return ((text, False),) if text else ()
    alternatives = "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})[\w-]*", re.IGNORECASE)
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


def paper_view(
    number: int, scored: ScoredPaper, links: DigestLinks, *, compact: bool = False
) -> PaperView:
    """Everything the templates show for one paper, with untrusted fields cleaned and vetted."""
    facts = _paper_facts(scored.paper)
    up, down = links.feedback.get(scored.paper.paper_id, ("", ""))
    up, down = safe_url(up), safe_url(down)
    reasons = _reason_labels(scored.reasons)
    return PaperView(
        number=number,
        marker=f"{number}.".ljust(4),
        title=facts.title,
        url=facts.url,
        authors=facts.authors,
        meta=facts.meta,
        meta_line=facts.meta_line,
        excerpt=facts.excerpt,
        excerpt_parts=() if compact else highlight(facts.excerpt, matched_words(scored.reasons)),
        reasons=reasons,
        why="; ".join(reasons),
        links=facts.links,
        text_links=facts.text_links,
        feedback_up=up,
        feedback_down=down,
        facts=facts,
        scored=scored,
        compact=compact,
        text_line=links_lines(
            [
                *((link.label, link.url) for link in facts.text_links),
                *((("More like this", up),) if up else ()),
                *((("Less like this", down),) if down else ()),
            ]
        ),
    )


def preheader_line(summary: str, papers: list[PaperView]) -> str:
    """The inbox preview: as many whole titles as fit, else the first one cut, else the summary."""
    titles: list[str] = []
    used = 0
    for paper in papers:
        used += len(paper.title) + (3 if titles else 0)
        if used > PREHEADER_CHARS:
            break
        titles.append(paper.title)
    if titles:
        return " · ".join(titles)
    return truncate(papers[0].title if papers else summary, PREHEADER_CHARS)


def links_lines(links: Iterable[tuple[str, str]], indent: str = "    ") -> str:
    """A paper's links in the text part: 'Label: URL · Label: URL' on one line, split at links
    only when the line would pass LINK_LINE_OCTETS (mail lines may not pass 998 octets)."""
    lines: list[str] = []
    line = ""
    for label, url in links:
        item = f"{label}: {url}"
        if line and len((line + " · " + item).encode()) > LINK_LINE_OCTETS:
            lines.append(line)
            line = ""
        line = f"{line} · {item}" if line else indent + item
    if line:
        lines.append(line)
    return "\n".join(lines)


def tidy_text(text: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines left by template logic."""
    lines = [line.rstrip() for line in text.splitlines()]
    # A blank line stays only after a line with text: none at the start, one at most between.
    out = [line for before, line in zip(["", *lines], lines, strict=False) if line or before]
    if out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def specimen_digests() -> tuple[Digest, ...]:
    """Digests that between them take every branch of the email templates.

    The Renderer renders these once through premailer to learn each element's inline styles;
    a branch no specimen takes would keep its marker unlearned, which fails construction.
    """
    base = "https://paperboy.invalid"
    full = Candidate(
        paper_id=1,
        key="arxiv:0000.00001",
        title="A paper with every field",
        abstract="An abstract. With sentences.",
        authors=("Ada Lovelace", "Alan Turing"),
        published=dt.date(2025, 1, 1),
        sources=("arxiv",),
        upvotes=1,
        abstract_url=f"{base}/abs",
        pdf_url=f"{base}/pdf",
        code_url=f"{base}/code",
        project_url=f"{base}/project",
    )
    bare = Candidate(paper_id=2, key="title:bare", title="A paper with no links or details")
    compact = Candidate(**{**{n: getattr(full, n) for n in Candidate.__slots__}, "paper_id": 3})  # type: ignore[attr-defined]
    papers = (
        ScoredPaper(full, 1.0, (Reason('matches "sentences"'),)),
        ScoredPaper(bare, 0.7),
        ScoredPaper(compact, 0.6),
        ScoredPaper(bare, 0.5),  # past the listed ones: counted, with a link to the archive
    )
    feedback = {1: (f"{base}/up", f"{base}/down"), 3: (f"{base}/up3", f"{base}/down3")}
    links = DigestLinks(f"{base}/manage", f"{base}/unsubscribe", feedback, f"{base}/archive")
    day = dt.date(2025, 1, 1)
    return (
        Digest("specimen@paperboy.invalid", day, papers, links, (Topic("keyword", "topic"),)),
        Digest("specimen@paperboy.invalid", day, (), links, notes=("A note.",)),
    )


# Small limits for the specimens, so they take the compact and the "more" branches too.
SPECIMEN_LIMITS = (2, 3)


class OncePerPaper:
    """Template global `once_per_paper(macro, facts)`: macro(facts), rendered once per paper.

    A digest's rows are mostly the same for everyone who gets that paper: the title, authors,
    excerpt and links. Macros that see only PaperFacts render those parts once, and every
    later digest reuses the markup. Bounded: the cache starts over past `size` entries.
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


class Renderer:
    """Renders digests with the email templates; build once per run, call render() per digest.

    Construction compiles the stylesheet into the templates (a few premailer runs over the
    specimen digests) and raises service.digest.inline.TemplateStyleError when that cannot be exact.
    """

    def __init__(self, templates_dir: Path, *, site_name: str = "Paperboy") -> None:
        self.templates_dir = Path(templates_dir)
        self.site_name = clean_text(site_name) or "Paperboy"
        files = FileSystemLoader(self.templates_dir)
        # The stylesheet is static text, not a template: read it raw so CSS braces never
        # collide with Jinja syntax.
        stylesheet = Markup(files.get_source(Environment(), CSS_FILE)[0])
        keys: set[str] = set()
        for name in files.list_templates():
            if name.startswith("email/") and name.endswith(".html"):
                keys |= marker_keys(files.get_source(Environment(), name)[0])

        # Reference: markers vanish and premailer inlines the whole stylesheet per digest.
        self._reference = self._environment(files, no_marker, stylesheet)
        probe = self._environment(files, probe_marker, stylesheet).get_template(HTML_TEMPLATE)
        self.styles: LearnedStyles = learn_styles(
            (
                probe.render(self.context(digest, limits=SPECIMEN_LIMITS))
                for digest in specimen_digests()
            ),
            keys,
        )
        # Fast: markers become the learned attributes; only the leftover rules stay in <style>.
        attributes = self.styles.attributes
        self.env = self._environment(
            files, attributes.__getitem__, Markup(self.styles.leftover_css)
        )
        # Load eagerly so a missing template fails at startup, not at the first subscriber.
        self._html = self.env.get_template(HTML_TEMPLATE)
        self._text = self.env.get_template(TEXT_TEMPLATE)

    @staticmethod
    def _environment(
        files: FileSystemLoader, marker: Callable[[str], str], css: Markup
    ) -> Environment:
        env = Environment(
            loader=MarkerLoader(files, marker),
            # .html is escaped; .txt is plain text and must show "<script>" literally.
            autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml")),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        env.filters["safe_url"] = safe_url
        env.filters["wrap"] = wrap_text
        env.filters["link_line"] = link_line
        env.globals.update(
            css=css, preheader_padding=PREHEADER_PADDING, once_per_paper=OncePerPaper()
        )
        return env

    def context(
        self, digest: Digest, *, limits: tuple[int, int] = (FULL_PAPERS, LISTED_PAPERS)
    ) -> dict[str, object]:
        """The variables both templates receive. `limits`: (papers in the full layout, papers
        listed at all); the rest are only counted."""
        full, listed = limits
        papers = [
            paper_view(i, scored, digest.links, compact=i > full)
            for i, scored in enumerate(digest.papers[:listed], 1)
        ]
        count = len(digest.papers)
        archive = safe_url(digest.links.archive)
        cadence = "weekly" if digest.cadence == "weekly" else "daily"
        summary = (
            summary_line(count, digest.topics) if count else quiet_line(cadence, digest.new_papers)
        )
        return {
            "site_name": self.site_name,
            "subject": make_subject(self.site_name, digest),
            "date_long": long_date(digest.digest_date),
            "date_short": short_date(digest.digest_date),
            "summary": summary,
            "preheader": preheader_line(summary, papers),
            "email": clean_text(digest.email),
            "papers": papers,
            "more": count - len(papers),
            "cadence": cadence,
            "period": period(cadence),
            # The archive page has an anchor per digest date: "view in browser" lands on this one.
            "archive_url": f"{archive}#{digest.digest_date.isoformat()}" if archive else "",
            "manage_url": safe_url(digest.links.manage),
            "unsubscribe_url": safe_url(digest.links.unsubscribe),
            "text_width": TEXT_WIDTH,
            "notes": [clean_text(note) for note in digest.notes],
        }

    def _fitted(self, digest: Digest) -> tuple[dict[str, object], str]:
        """The context and HTML with the most papers shown that stay within HTML_BUDGET.

        The usual limits fit any ordinary digest at the 100-paper maximum; papers with very
        long fields (300-character titles in a 3-byte script) make the rows bigger, so fewer
        are shown in full, then fewer listed, until the HTML fits.
        """
        full, listed = FULL_PAPERS, LISTED_PAPERS
        while True:
            ctx = self.context(digest, limits=(full, listed))
            html = self._html.render(ctx)
            if len(html) * 3 <= HTML_BUDGET or len(html.encode()) <= HTML_BUDGET or listed <= 1:
                return ctx, html
            if full > 4:
                full -= 2
            else:
                listed = max(1, listed - 3)
                full = min(full, listed)

    def render(self, digest: Digest) -> RenderedDigest:
        """Subject, CSS-inlined HTML, wrapped plain text and preheader for one digest."""
        ctx, html = self._fitted(digest)
        if not ctx["unsubscribe_url"]:
            log.warning(
                "render.unsubscribe_dropped email=%s reason=not_http_url",
                mask_address(ctx["email"]),
            )
        return RenderedDigest(
            subject=str(ctx["subject"]),
            html=html,
            text=tidy_text(self._text.render(ctx)),
            preheader=str(ctx["preheader"]),
        )

    def render_reference(self, digest: Digest) -> RenderedDigest:
        """What render() returns, the slow way: premailer over each digest's whole HTML.

        render() must give every element the same attributes (a test compares them);
        bench/build.py times the two.
        """
        ctx, _ = self._fitted(digest)
        html = self._reference.get_template(HTML_TEMPLATE).render(ctx)
        return RenderedDigest(
            subject=str(ctx["subject"]),
            html=inline_css(html),
            text=tidy_text(self._text.render(ctx)),
            preheader=str(ctx["preheader"]),
        )
