"""Plain records passed between pipeline stages; no I/O, no database.

Every stage speaks in these types so that parsing, diffing, ranking and rendering stay pure
functions that tests can call with literals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Listing:
    """One paper as one source saw it at one moment. Unknown fields are None / empty."""

    title: str
    abstract: str = ""
    source: str = "file"
    arxiv_id: str | None = None  # without version, e.g. "2508.13426"
    arxiv_version: int | None = None
    authors: tuple[str, ...] = ()
    author_count: int | None = None
    categories: tuple[str, ...] = ()
    published: dt.date | None = None  # the paper's own publication date
    listed_on: dt.date | None = None  # the day the source listed it
    position: int | None = None  # 1-based rank within the listing
    upvotes: int | None = None
    comments: int | None = None
    stars: int | None = None
    abstract_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    thumbnail_url: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input entry that could not become a Listing: where it was and why."""

    where: str  # e.g. "line 12" or "item 3"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(slots=True)
class ParseResult:
    """What a parser made of one input: good listings, and the entries it rejected."""

    listings: list[Listing] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    listed_on: dt.date | None = None  # the listing day, where the input says it
    # arXiv ids announced here only as replacements: they update a stored paper, never add one
    update_only: frozenset[str] = frozenset()
    quiet: bool = False  # a valid feed without entries: the source announced nothing that day


@dataclass(slots=True)
class IngestReport:
    """Counts of one ingest of one source input."""

    source: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: int = 0  # replacements of papers the ledger never had: not added
    status: str = "ok"  # ok, failed, no_announcement, not_modified
    changed_ids: list[int] = field(default_factory=list, repr=False)  # new and updated papers
    embedded: int = 0  # of those, how many have a stored embedding after the ingest

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "fetched": self.fetched,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class Topic:
    """A subscriber preference: kind is keyword, category, author or exclude."""

    kind: str
    text: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored paper as the ranker and the renderer see it."""

    paper_id: int
    key: str
    title: str
    abstract: str = ""
    arxiv_id: str | None = None
    authors: tuple[str, ...] = ()
    author_count: int | None = None
    categories: tuple[str, ...] = ()
    published: dt.date | None = None
    first_seen: dt.datetime | None = None
    sources: tuple[str, ...] = ()
    upvotes: int | None = None
    comments: int | None = None
    stars: int | None = None
    abstract_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    ai_summary: str | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a paper was chosen: the topic it matched and the terms, or a trending note."""

    label: str  # e.g. 'matches "reinforcement learning"' or "trending: 42 upvotes"
    topic: str | None = None
    terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoredPaper:
    """A candidate with its score and the reasons it was chosen.

    ``interest``: the name of the reader's interest it was picked for, when they have several
    (the digest then has a section per interest); None for a reader with one.
    """

    paper: Candidate
    score: float
    reasons: tuple[Reason, ...] = ()
    interest: str | None = None


@dataclass(frozen=True, slots=True)
class DigestLinks:
    """Signed per-subscriber links that go into every email."""

    manage: str
    unsubscribe: str
    feedback: dict[int, tuple[str, str]] = field(default_factory=dict)  # paper_id -> (up, down)
    archive: str = ""  # the subscriber's archive page: "view in browser" and "N more" link
    # paper_id -> ((label, url), ...): "Mute Jane Doe", "Not interested in “fuzzing”"
    steer: dict[int, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # The signed token in every feedback and steer URL, when it is all that tells one reader's
    # paper links from another's (service/subscribers/paper_links.py): the Renderer then shares
    # each paper's view and rows between readers (service/digest/shared_views.py). "" for none.
    token: str = ""


@dataclass(frozen=True, slots=True)
class Digest:
    """One subscriber's digest for one digest date, ready to render."""

    email: str
    digest_date: dt.date
    papers: tuple[ScoredPaper, ...]
    links: DigestLinks
    topics: tuple[Topic, ...] = ()
    notes: tuple[str, ...] = ()  # why a day is quiet, e.g. arXiv made no announcement
    cadence: str = "daily"  # "daily" or "weekly": the words the email uses for itself
    new_papers: int | None = None  # new papers the sources had for the day (None: not known)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """Subject, HTML and plain text of one digest (headers are added by the mailer)."""

    subject: str
    html: str
    text: str
    preheader: str = ""
