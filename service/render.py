"""Render a Digest into a RenderedDigest (subject, inlined HTML, plain text, preheader).

Rendering is pure apart from reading the templates once: the Renderer builds a view of each
paper in Python (excerpt, author list, links vetted by `safe_url`) and the templates under
templates/email/ only lay it out. Paper data is untrusted: the HTML template autoescapes it,
only http(s) URLs reach an href, and control characters never reach the subject or text.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import textwrap
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from premailer import Premailer

from service.records import Candidate, Digest, DigestLinks, RenderedDigest, ScoredPaper, Topic

log = logging.getLogger(__name__)

TEXT_WIDTH = 78
EXCERPT_CHARS = 400
EXCERPT_SENTENCES = 3
MAX_AUTHORS = 3
PREHEADER_CHARS = 140

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


@dataclass(frozen=True, slots=True)
class Link:
    """A labelled, already vetted http(s) link."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class PaperView:
    """One paper as the templates see it: display strings, vetted URLs ("" when none)."""

    number: int
    marker: str  # "1.  ", the text part's hanging-indent prefix
    title: str
    url: str  # where the title links: abstract, else PDF, code or project page
    authors: str
    meta: tuple[str, ...]  # sources, date, author count, upvotes, stars
    excerpt: str
    reasons: tuple[str, ...]
    links: tuple[Link, ...]  # PDF / code / project page, shown under the paper
    text_links: tuple[Link, ...]  # the same plus the abstract, spelled out in the text part
    feedback_up: str
    feedback_down: str
    scored: ScoredPaper  # the raw record, for templates that want more


def safe_url(value: object) -> str:
    """Return `value` if it is an absolute http(s) URL without whitespace or controls, else ""."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    if not url or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 netloc
        return ""
    if parts.scheme.lower() not in _SAFE_SCHEMES or not parts.hostname:
        return ""
    return url


def clean_text(value: str | None) -> str:
    """Collapse all whitespace to single spaces and drop control characters (one line out)."""
    if not value:
        return ""
    value = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value)
    return " ".join(value.split())


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters at a word boundary, ending with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:  # prefer a word boundary unless it throws away too much
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def wrap_text(
    text: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None
) -> str:
    """Wrap one paragraph for the text part; long words (URLs) are never broken."""
    first = indent if first is None else first
    lines = textwrap.wrap(
        clean_text(text),
        width=width,
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines) if lines else first.rstrip()


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


def make_subject(site_name: str, digest: Digest) -> str:
    """'Paperboy — 7 papers for Fri 21 Nov'; always a single line."""
    count = plural(len(digest.papers), "paper")
    return clean_text(f"{site_name} — {count} for {short_date(digest.digest_date)}")


def summary_line(count: int, topics: Iterable[Topic]) -> str:
    """'7 papers on reinforcement learning and scaling laws', or '7 papers' without keywords."""
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
    sentences = _SENTENCE_BREAK.split(clean_text(paper.abstract))
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


def meta_items(paper: Candidate) -> tuple[str, ...]:
    """Sources, publication date, author count (when names are unknown), upvotes, stars."""
    items: list[str] = []
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


def paper_view(number: int, scored: ScoredPaper, links: DigestLinks) -> PaperView:
    """Everything the templates show for one paper, with untrusted fields cleaned and vetted."""
    paper = scored.paper
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
    up, down = links.feedback.get(paper.paper_id, ("", ""))
    reasons = tuple(
        dict.fromkeys(label for label in (clean_text(r.label) for r in scored.reasons) if label)
    )
    return PaperView(
        number=number,
        marker=f"{number}.".ljust(4),
        title=clean_text(paper.title) or "(untitled)",
        url=abstract or next((link.url for link in extra), ""),
        authors=authors_line(paper),
        meta=meta_items(paper),
        excerpt=excerpt(paper),
        reasons=reasons,
        links=extra,
        text_links=((Link("Abstract", abstract),) if abstract else ()) + extra,
        feedback_up=safe_url(up),
        feedback_down=safe_url(down),
        scored=scored,
    )


def preheader_line(summary: str, papers: Iterable[PaperView]) -> str:
    """The inbox preview: the first titles, else the summary."""
    titles = " · ".join(paper.title for paper in papers)
    return truncate(titles or summary, PREHEADER_CHARS)


def tidy_text(text: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines left by template logic."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


class Renderer:
    """Renders digests with the email templates; build once per run, call render() per digest."""

    def __init__(self, templates_dir: Path, *, site_name: str = "Paperboy") -> None:
        self.templates_dir = Path(templates_dir)
        self.site_name = clean_text(site_name) or "Paperboy"
        self.env = Environment(
            loader=FileSystemLoader(self.templates_dir),
            # .html is escaped; .txt is plain text and must show "<script>" literally.
            autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml")),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters["safe_url"] = safe_url
        self.env.filters["wrap"] = wrap_text
        self.env.filters["link_line"] = link_line
        # Load eagerly so a missing template fails at startup, not at the first subscriber.
        self._html = self.env.get_template(HTML_TEMPLATE)
        self._text = self.env.get_template(TEXT_TEMPLATE)
        # The stylesheet is static text, not a template: read it raw so CSS braces never
        # collide with Jinja syntax.
        css_source, _, _ = self.env.loader.get_source(self.env, CSS_FILE)  # type: ignore[union-attr]
        self._css = Markup(css_source)

    def context(self, digest: Digest) -> dict[str, object]:
        """The variables both templates receive."""
        papers = [paper_view(i, scored, digest.links) for i, scored in enumerate(digest.papers, 1)]
        summary = summary_line(len(papers), digest.topics)
        return {
            "site_name": self.site_name,
            "subject": make_subject(self.site_name, digest),
            "date_long": long_date(digest.digest_date),
            "date_short": short_date(digest.digest_date),
            "summary": summary,
            "preheader": preheader_line(summary, papers),
            "email": clean_text(digest.email),
            "papers": papers,
            "manage_url": safe_url(digest.links.manage),
            "unsubscribe_url": safe_url(digest.links.unsubscribe),
            "css": self._css,
            "text_width": TEXT_WIDTH,
        }

    def render(self, digest: Digest) -> RenderedDigest:
        """Subject, CSS-inlined HTML, wrapped plain text and preheader for one digest."""
        ctx = self.context(digest)
        if not ctx["unsubscribe_url"]:
            log.warning("render.unsubscribe_dropped email=%s reason=not_http_url", ctx["email"])
        html = self._inline(self._html.render(ctx))
        text = tidy_text(self._text.render(ctx))
        return RenderedDigest(
            subject=str(ctx["subject"]),
            html=html,
            text=text,
            preheader=str(ctx["preheader"]),
        )

    @staticmethod
    def _inline(html: str) -> str:
        # Leftover rules (the @media blocks) stay in a <style> tag and are marked !important
        # by premailer so they can beat the inline styles; strip_important=False keeps that.
        # No network and no files: the template carries its own CSS.
        return Premailer(
            html,
            base_url=None,
            disable_link_rewrites=True,
            keep_style_tags=False,
            strip_important=False,
            remove_classes=False,
            allow_network=False,
            allow_loading_external_files=False,
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
        ).transform()
