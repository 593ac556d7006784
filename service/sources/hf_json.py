"""Parse a Hugging Face `/api/daily_papers` response (a JSON list of items) into listings.

Two schemas are in the wild. The older one has no `ai_*`, `githubRepo`, `projectPage` or
`submittedOnDailyAt`, and its outer `publishedAt` is the time the paper was put on the daily
list. The newer one has all of those, and the listing time is `paper.submittedOnDailyAt`; its
outer `publishedAt` is no longer the listing time. Fields are read defensively: a field of the
wrong type is treated as missing, because one odd item must not lose the whole day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from service.errors import SourceError
from service.records import Listing, ParseResult, Rejected
from service.sources.arxiv_ids import abs_url, parse_arxiv_id, pdf_url
from service.sources.page_text import collapse_ws, decode_text
from service.sources.tex import tex_clean


def parse_hf_daily(data: bytes, *, source: str = "hf_daily") -> ParseResult:
    """Return the listings of a daily_papers JSON list; bad items are rejected, bad JSON raises.

    Each item is `{"paper": {...}, ...}`; a bare paper object (with "id"/"title") is accepted
    too. Items without a title, or that are not objects, become Rejected("item N", reason).
    Invalid JSON or a top level that is not a list raises SourceError naming the problem.
    """
    text = decode_text(data, source=source)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno} "
            f"(char {exc.pos}): {exc.msg}"
        ) from exc
    items = _items_of(document, source=source)

    listings: list[Listing] = []
    rejected: list[Rejected] = []
    # Old-schema items carry the listing time outside the paper; newer ones inside it. Decide
    # per response, so that one new-schema item missing submittedOnDailyAt does not borrow the
    # outer publishedAt, which in that schema is not the listing time.
    newer_schema = any(
        isinstance(item, Mapping)
        and isinstance(item.get("paper"), Mapping)
        and "submittedOnDailyAt" in item["paper"]
        for item in items
    )
    for index, item in enumerate(items):
        where = f"item {index + 1}"
        if not isinstance(item, Mapping):
            rejected.append(Rejected(where, f"not an object but {_json_type(item)}"))
            continue
        listing = _listing_of(item, position=index + 1, source=source, newer_schema=newer_schema)
        if isinstance(listing, str):
            rejected.append(Rejected(where, listing))
        else:
            listings.append(listing)

    days = {listing.listed_on for listing in listings if listing.listed_on is not None}
    listed_on = days.pop() if len(days) == 1 else None
    return ParseResult(listings=listings, rejected=rejected, listed_on=listed_on)


def _items_of(document: Any, *, source: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping):
        # The API answers errors with an object such as {"error": "Invalid date"}: say so.
        if "error" in document:
            raise SourceError(f"{source}: the response is an error: {document['error']!r}")
        # One item saved on its own is still one item; any other object is not this API.
        if "paper" in document or ("id" in document and "title" in document):
            return [document]
    raise SourceError(
        f"{source}: expected a JSON list of daily-paper items, got {_json_type(document)}"
    )


def _listing_of(
    item: Mapping[str, Any], *, position: int, source: str, newer_schema: bool
) -> Listing | str:
    """Return the Listing of one item, or the reason it cannot be one."""
    if "paper" in item:
        paper = item["paper"]
        if not isinstance(paper, Mapping):
            return f"'paper' is not an object but {_json_type(paper)}"
        wrapper: Mapping[str, Any] = item
    else:
        paper, wrapper = item, {}  # a bare paper object: no outer fields

    title = tex_clean(_str(paper.get("title")) or _str(wrapper.get("title")) or "")
    if not title:
        return "no title"

    parsed_id = parse_arxiv_id(_str(paper.get("id")) or "")
    arxiv_id, version = parsed_id if parsed_id is not None else (None, None)

    raw_authors = paper.get("authors")
    authors: tuple[str, ...] = ()
    author_count = None
    if isinstance(raw_authors, list):
        # Hidden authors are hidden from the author's profile, not from the paper: keep them.
        authors = tuple(
            name
            for a in raw_authors
            if isinstance(a, Mapping) and (name := tex_clean(_str(a.get("name")) or ""))
        )
        author_count = len(raw_authors)

    if newer_schema:
        listed_on = _date(paper.get("submittedOnDailyAt"))
    else:
        listed_on = _date(paper.get("submittedOnDailyAt")) or _date(wrapper.get("publishedAt"))

    keywords = paper.get("ai_keywords")
    if not isinstance(keywords, list):
        keywords = []
    return Listing(
        title=title,
        abstract=tex_clean(_str(paper.get("summary")) or _str(wrapper.get("summary")) or ""),
        source=source,
        arxiv_id=arxiv_id,
        arxiv_version=version,
        authors=authors,
        author_count=author_count,
        published=_date(paper.get("publishedAt")),
        listed_on=listed_on,
        position=position,
        upvotes=_int(paper.get("upvotes")),
        comments=_int(wrapper.get("numComments", paper.get("numComments"))),
        stars=_int(paper.get("githubStars")),
        abstract_url=abs_url(arxiv_id) if arxiv_id else None,
        pdf_url=pdf_url(arxiv_id) if arxiv_id else None,
        code_url=_str(paper.get("githubRepo")),
        project_url=_str(paper.get("projectPage")),
        thumbnail_url=_str(wrapper.get("thumbnail", paper.get("thumbnail"))),
        ai_summary=collapse_ws(_str(paper.get("ai_summary")) or "") or None,
        ai_keywords=tuple(collapse_ws(k) for k in keywords if isinstance(k, str) and k.strip()),
    )


def _str(value: Any) -> str | None:
    """Return a non-blank string value stripped, else None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _int(value: Any) -> int | None:
    # bool is an int subclass in Python; a JSON true is not a count.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _date(value: Any) -> dt.date | None:
    """Return the UTC calendar date of an ISO timestamp such as 2025-08-20T01:12:39.713Z."""
    text = _str(value)
    if text is None:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return stamp.date()


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__
