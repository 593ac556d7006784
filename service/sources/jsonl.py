"""JSON Lines of Listing records: one object per line whose keys are Listing field names.

This is Paperboy's own interchange format (the bundled sample data, exports, hand-made inputs),
so it is strict: an unknown key is an error for its line, naming the key, because a misspelt
field would otherwise vanish silently.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any

from service.records import Listing, ParseResult, Rejected
from service.sources.page_text import decode_text

_STR_FIELDS = frozenset(
    {
        "title", "abstract", "source", "arxiv_id", "abstract_url", "pdf_url", "code_url",
        "project_url", "thumbnail_url", "ai_summary",
    }
)  # fmt: skip
_INT_FIELDS = frozenset(
    {"arxiv_version", "author_count", "position", "upvotes", "comments", "stars"}
)
_DATE_FIELDS = frozenset({"published", "listed_on"})
_TUPLE_FIELDS = frozenset({"authors", "categories", "ai_keywords"})
# Every Listing field must be in exactly one set above; a test guards this when records.py grows.
_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Listing))

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _LineError(ValueError):
    """A reason why one line cannot become a Listing."""


def parse_jsonl(data: bytes, *, source: str = "file") -> ParseResult:
    """Return one Listing per JSON line; blank lines are skipped, bad lines rejected by number.

    A line without a "source" key takes the `source` argument. Undecodable input raises
    SourceError; everything else wrong is local to its line.
    """
    text = decode_text(data, source=source)
    listings: list[Listing] = []
    rejected: list[Rejected] = []
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if not line.strip():
            continue
        try:
            listings.append(_listing_of(line, source=source))
        except _LineError as exc:
            rejected.append(Rejected(f"line {number}", str(exc)))
    days = {listing.listed_on for listing in listings if listing.listed_on is not None}
    return ParseResult(
        listings=listings, rejected=rejected, listed_on=days.pop() if len(days) == 1 else None
    )


def dump_jsonl(listings: Iterable[Listing]) -> str:
    """Return listings as JSON Lines, omitting None and empty fields; parse_jsonl reads it back."""
    lines = []
    for listing in listings:
        record: dict[str, Any] = {}
        for name in _FIELD_NAMES:
            value = getattr(listing, name)
            if value is None or value == "" or value == ():
                continue
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            record[name] = value
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(lines)


def _listing_of(line: str, *, source: str) -> Listing:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _LineError(f"invalid JSON at column {exc.colno}: {exc.msg}") from exc
    if not isinstance(record, dict):
        raise _LineError(f"expected a JSON object, got {type(record).__name__}")
    unknown = [key for key in record if key not in _FIELD_NAMES]
    if unknown:
        raise _LineError(f"unknown key {unknown[0]!r}")

    values: dict[str, Any] = {"source": source}
    for key, value in record.items():
        if value is None:
            continue  # None is every optional field's "unknown"; title is checked below
        values[key] = _convert(key, value)
    # The title is kept as written (not re-spaced) so that dump_jsonl output reads back equal.
    if not values.get("title", "").strip():
        raise _LineError("'title' is missing or empty")
    if not values["source"]:
        values["source"] = source
    return Listing(**values)


def _convert(key: str, value: Any) -> Any:
    """Return a JSON value as the Listing field's type, or raise _LineError naming the key."""
    if key in _STR_FIELDS:
        if not isinstance(value, str):
            raise _LineError(f"{key!r} must be a string")
        return value
    if key in _INT_FIELDS:
        # bool is an int subclass; true/false in a count field is a mistake, not 1/0.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _LineError(f"{key!r} must be an integer")
        return value
    if key in _DATE_FIELDS:
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise _LineError(f"{key!r} must be a date as YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise _LineError(f"{key!r} is not a valid date: {value}") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _LineError(f"{key!r} must be a list of strings")
    return tuple(value)
