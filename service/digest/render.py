"""Render a Digest into a RenderedDigest (subject, inlined HTML, plain text, preheader).

Rendering is pure apart from reading the templates once: the Renderer builds a view of each
paper in Python (service/digest/paper_view.py: excerpt, author list, links vetted by
`text.safe_url`) and the templates under templates/email/ only lay it out. Paper data is
untrusted: the HTML template autoescapes it, only http(s) URLs reach an href, and control
characters never reach the subject or text.

The CSS is inlined once per Renderer, not once per digest: service/digest/inline.py learns from
premailer which attributes each styled element of the templates gets and compiles them into the
templates, so `render()` is plain Jinja. `render_reference()` is the slow path it must match
(premailer over the whole document); a test compares the two element by element.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from service import logs
from service.digest.fragments import OncePerPaper, OncePerRow, OncePerView
from service.digest.inline import (
    LearnedStyles,
    MarkerLoader,
    inline_css,
    learn_styles,
    marker_keys,
    no_marker,
    probe_marker,
)
from service.digest.paper_view import PaperView, paper_view
from service.digest.paper_view import marker as number_marker
from service.digest.shared_views import SharedViews, restore, shareable
from service.digest.text import (
    TEXT_WIDTH,
    clean_text,
    link_line,
    long_date,
    period,
    plural,
    quiet_line,
    safe_url,
    short_date,
    tidy_text,
    truncate,
    wrap_text,
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

log = logs.get_logger(__name__)

PREHEADER_CHARS = 140
SUBJECT_CHARS = 78
# Gmail clips an HTML part past ~102 KB and hides what follows (the unsubscribe footer): the
# first FULL_PAPERS papers get the full layout, the rest up to LISTED_PAPERS a compact one
# (title, one line, links), and any beyond that are counted with a link to the archive.
FULL_PAPERS = 10
LISTED_PAPERS = 40
# The HTML part's most octets; rows are dropped into the "more in your archive" count past it.
HTML_BUDGET = 88_000

HTML_TEMPLATE = "email/digest.html"
TEXT_TEMPLATE = "email/digest.txt"
ROWS_TEMPLATE = "email/_paper.html"  # the paper row macros, the global `rows` of the templates
TEXT_ROWS_TEMPLATE = "email/_paper.txt"  # the text part's, the global `text_rows`
CSS_FILE = "email/digest.css"

QUIET_DAY = "Nothing new for your topics today"  # when the day's paper count is not known
# The preheader's tail: zero-width joiners and spaces that fill the inbox preview's remaining
# room, so clients do not pull body text (the site name, the date) into it.
PREHEADER_PADDING = Markup("&#847;&zwnj;&nbsp;" * 30)


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
    sections = tuple(
        dataclasses.replace(p, interest=name)
        for p, name in zip(papers, ("First", "First", "Second", "Second"), strict=True)
    )
    return (
        Digest("specimen@paperboy.invalid", day, papers, links, (Topic("keyword", "topic"),)),
        Digest("specimen@paperboy.invalid", day, (), links, notes=("A note.",)),
        Digest("specimen@paperboy.invalid", day, sections, links, (Topic("keyword", "topic"),)),
    )


# Small limits for the specimens, so they take the compact and the "more" branches too.
SPECIMEN_LIMITS = (2, 3)


class Renderer:
    """Renders digests with the email templates; build once per run, call render() per digest.

    Construction compiles the stylesheet into the templates (a few premailer runs over the
    specimen digests) and raises service.digest.inline.TemplateStyleError when that cannot be exact.
    """

    def __init__(self, templates_dir: Path, *, site_name: str = "Paperboy") -> None:
        self.templates_dir = Path(templates_dir)
        self.site_name = clean_text(site_name) or "Paperboy"
        self._views = SharedViews()
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
            css=css,
            preheader_padding=PREHEADER_PADDING,
            once_per_paper=OncePerPaper(),
            once_per_row=OncePerRow(),
            once_per_view=OncePerView(),
            number_marker=number_marker,
        )
        # The row macros as a global, made once: a `{% from %}` import in digest.html would look
        # the module up again on every render (~2 % of the worker's time).
        env.globals["rows"] = env.get_template(ROWS_TEMPLATE).module
        env.globals["text_rows"] = env.get_template(TEXT_ROWS_TEMPLATE).module
        return env

    def context(
        self, digest: Digest, *, limits: tuple[int, int] = (FULL_PAPERS, LISTED_PAPERS)
    ) -> dict[str, object]:
        """The variables both templates receive. `limits`: (papers in the full layout, papers
        listed at all); the rest are only counted."""
        full, listed = limits
        token = shareable(digest.links)
        if token:
            views = self._views
            papers = [
                views(scored, digest.links, token, compact=i > full)
                for i, scored in enumerate(digest.papers[:listed], 1)
            ]
        else:
            papers = [
                paper_view(scored, digest.links, compact=i > full)
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
        token = shareable(digest.links)
        if not ctx["unsubscribe_url"]:
            log.warning(
                "render.unsubscribe_dropped",
                email=mask_address(ctx["email"]),
                reason="not_http_url",
            )
        return RenderedDigest(
            subject=str(ctx["subject"]),
            html=restore(html, token),
            text=restore(tidy_text(self._text.render(ctx)), token),
            preheader=str(ctx["preheader"]),
        )

    def render_reference(self, digest: Digest) -> RenderedDigest:
        """What render() returns, the slow way: premailer over each digest's whole HTML.

        render() must give every element the same attributes (a test compares them);
        bench/build.py times the two.
        """
        ctx, _ = self._fitted(digest)
        token = shareable(digest.links)
        html = self._reference.get_template(HTML_TEMPLATE).render(ctx)
        return RenderedDigest(
            subject=str(ctx["subject"]),
            html=restore(inline_css(html), token),
            text=restore(tidy_text(self._text.render(ctx)), token),
            preheader=str(ctx["preheader"]),
        )
