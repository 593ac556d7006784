"""Parse arXiv's RSS 2.0 / Atom category feeds and export API (Atom) responses into listings.

Pure: bytes in, `ArxivDocument` out; feedparser does the XML. The formats, as recorded:

- RSS item / feed Atom entry: guid `oai:arXiv.org:<id>v<n>`, `<arxiv:announce_type>` new, cross,
  replace or replace-cross, a description `arXiv:<id>v<n> Announce Type: <type> \\nAbstract: …`,
  `dc:creator` as one comma-joined string, no per-item date (the channel's pubDate is the
  listing day).
- Export API entry: id `http://arxiv.org/abs/<id>v<n>`, plain abstract, one `<author>` each,
  `<published>` = first version's submission; `opensearch:totalResults` for paging. Errors come
  back as a single entry titled "Error" whose id points at `/api/errors`.

`new` and `cross` announce a paper; `replace` and `replace-cross` announce a new version of a
paper announced before, so those ids go in `ParseResult.update_only`: they refresh a stored
paper but never add one (it would otherwise look like news). A valid feed without items is a
quiet day (`quiet=True`); arXiv's "Feed error for query" feed is an error, not a quiet day.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import feedparser

from service.errors import SourceError
from service.records import Listing, ParseResult, Rejected
from service.sources.arxiv_ids import abs_url, parse_arxiv_id, pdf_url
from service.sources.page_text import collapse_ws
from service.sources.tex import tex_clean

EASTERN = zoneinfo.ZoneInfo("America/New_York")
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
UPDATE_ONLY_TYPES = frozenset({"replace", "replace-cross"})

_DESCRIPTION_HEAD = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.IGNORECASE
)


@dataclass(slots=True)
class ArxivDocument:
    """A parsed arXiv document: its listings, and paging facts when it is an API answer."""

    parsed: ParseResult
    kind: str  # "feed" (RSS/Atom category feed) or "api" (export API answer)
    total_results: int | None = None
    start_index: int | None = None


def parse_arxiv(data: bytes, *, source: str = "arxiv") -> ArxivDocument:
    """Return the listings of an arXiv feed or API answer; a broken document raises SourceError.

    A truncated or malformed document fails as a whole (feedparser would otherwise hand back
    the entries before the break, and a half-read day would look complete).
    """
    if not data.strip():
        raise SourceError(f"{source}: empty response, not an RSS or Atom document")
    document = feedparser.parse(data)
    if document.get("bozo") and not isinstance(
        document.get("bozo_exception"), feedparser.ThingsNobodyCaresAboutButMe
    ):
        raise SourceError(f"{source}: invalid or truncated feed: {document.get('bozo_exception')}")
    if not document.get("version"):
        raise SourceError(f"{source}: not an RSS or Atom feed")
    feed = document.get("feed", {})
    title = collapse_ws(feed.get("title", ""))
    if title.lower().startswith("feed error"):
        detail = collapse_ws(feed.get("subtitle", "") or feed.get("description", ""))
        raise SourceError(
            f"{source}: arXiv answered with an error feed: {title}"
            + (f" — {detail}" if detail else "")
        )
    entries = document.get("entries", [])
    for entry in entries:
        if "/api/errors" in entry.get("id", "") or collapse_ws(entry.get("title", "")) == "Error":
            raise SourceError(
                f"{source}: arXiv API error: {collapse_ws(entry.get('summary', '')) or entry.get('id')}"
            )

    total = _int(feed.get("opensearch_totalresults"))
    kind = "api" if total is not None or "/api/" in feed.get("id", "") else "feed"
    feed_day = _feed_day(feed) if kind == "feed" else None

    listings: list[Listing] = []
    rejected: list[Rejected] = []
    update_only: set[str] = set()
    announced: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"item {index + 1}"
        result = _listing_of(entry, position=index + 1, source=source, kind=kind, feed_day=feed_day)
        if isinstance(result, str):
            rejected.append(Rejected(where, result))
            continue
        listing, announce_type = result
        listings.append(listing)
        assert listing.arxiv_id is not None
        if announce_type in UPDATE_ONLY_TYPES:
            update_only.add(listing.arxiv_id)
        else:
            announced.add(listing.arxiv_id)
    parsed = ParseResult(
        listings=listings,
        rejected=rejected,
        listed_on=feed_day,
        update_only=frozenset(update_only - announced),
        quiet=kind == "feed" and not entries,
    )
    return ArxivDocument(parsed, kind, total, _int(feed.get("opensearch_startindex")))


def parse_arxiv_feed(data: bytes, *, source: str = "arxiv") -> ParseResult:
    """`parse_arxiv(...).parsed`: the shape every parser returns."""
    return parse_arxiv(data, source=source).parsed


def _listing_of(
    entry: Mapping[str, Any], *, position: int, source: str, kind: str, feed_day: dt.date | None
) -> tuple[Listing, str | None] | str:
    raw_id = entry.get("id") or entry.get("link") or ""
    parsed_id = parse_arxiv_id(raw_id) or parse_arxiv_id(entry.get("link") or "")
    if parsed_id is None:
        return f"no arXiv id (id {raw_id!r})" if raw_id else "no arXiv id"
    arxiv_id, version = parsed_id
    title = tex_clean(entry.get("title", ""))
    if not title:
        return f"{arxiv_id}: no title"

    summary = entry.get("summary", "") or ""
    announce_type = entry.get("arxiv_announce_type")
    head = _DESCRIPTION_HEAD.match(summary)
    if head is not None:
        announce_type = announce_type or head["type"]
        if version is None:  # the description names the version even where the link does not
            version = (parse_arxiv_id(summary.split()[0].removeprefix("arXiv:")) or (None, None))[1]
        summary = summary[head.end() :]
    announce_type = (announce_type or "").strip().lower() or None
    if kind == "feed" and announce_type not in ANNOUNCE_TYPES:
        return f"{arxiv_id}: unknown announce type {announce_type!r}"

    authors = _authors(entry)
    published = _date(entry.get("published")) if kind == "api" else None
    if kind == "feed" and announce_type in ("new", "cross"):
        published = feed_day  # first announced today: that is its publication on arXiv
    categories = tuple(dict.fromkeys(t["term"] for t in entry.get("tags", []) if t.get("term")))
    listing = Listing(
        title=title,
        abstract=tex_clean(summary),
        source=source,
        arxiv_id=arxiv_id,
        arxiv_version=version,
        authors=authors,
        author_count=len(authors) or None,
        categories=categories,
        published=published,
        listed_on=feed_day,
        position=position,
        abstract_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
    )
    return listing, announce_type


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [
        collapse_ws(a.get("name", "")) for a in entry.get("authors", []) if isinstance(a, Mapping)
    ]
    names = [n for n in names if n]
    if len(names) == 1 and "," in names[0]:
        # RSS puts every author in one dc:creator, comma-joined ("A. One, B. Two, C. Three").
        names = [collapse_ws(n) for n in re.split(r",\s*(?:and\s+)?", names[0]) if n.strip()]
    return tuple(tex_clean(n) or n for n in names)


def _feed_day(feed: Mapping[str, Any]) -> dt.date | None:
    """The listing day of a category feed: RSS pubDate in its own offset, else Atom updated in ET."""
    text = feed.get("published")
    if text:
        try:
            return email.utils.parsedate_to_datetime(text).date()
        except (TypeError, ValueError):
            pass
    text = feed.get("updated")
    if text:
        try:
            stamp = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(EASTERN)
        return stamp.date()
    return None


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp.astimezone(dt.UTC).date() if stamp.tzinfo else stamp.date()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
