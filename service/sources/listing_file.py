"""Listing files: tell the formats apart by their content and parse with the right parser.

A file's name says little (a saved page may be "papers.txt" or "download"), so the format is
read from the bytes: a JSON list is a Hugging Face response, lines of JSON objects are JSON
Lines of Listing, a document opening with "<" is XML for the arXiv feed parser (RSS or Atom;
entity declarations refused), and other text must bear the marks of a saved Daily Papers page.

Detection is strict: text that is none of these is refused, not read line by line as papers,
and a file most of whose entries are rejected fails as a whole and stores nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

from service.errors import SourceError
from service.records import Listing, ParseResult
from service.sources.arxiv_feed import parse_arxiv_feed
from service.sources.hf_json import parse_hf_daily
from service.sources.jsonl import parse_jsonl
from service.sources.page_text import decode_text, looks_like_page, parse_page_text

_LISTING_FIELDS = frozenset(f.name for f in dataclasses.fields(Listing))
_PARSERS = {
    "hf_json": parse_hf_daily,
    "jsonl": parse_jsonl,
    "page_text": parse_page_text,
    "xml": parse_arxiv_feed,
}
# An entity declaration in a listing file is an expansion attack ("billion laughs") or at best
# not a feed: arXiv's feeds declare none. Refused before any XML parser sees the document.
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)


def detect_format(data: bytes) -> str:
    """Return "hf_json", "jsonl", "xml" or "page_text" for the content of a listing file."""
    text = _lenient_text(data).lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        return "xml"
    if text.startswith("["):
        # "[{", "[]" or a valid document is JSON; "[Re] Reproducing ..." is a title.
        if text[1:].lstrip()[:1] in ("{", "]", "") or _is_json(text):
            return "hf_json"
        return "page_text"
    if not text.startswith("{"):
        return "page_text"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = _json_object(lines[0])
    if len(lines) >= 2:
        # A pretty-printed object opens with a lone "{" and few of its lines are objects; in
        # JSON Lines most are. One corrupt line must not turn JSON Lines into a JSON error.
        whole = sum(1 for line in lines if _json_object(line) is not None)
        if first is not None or whole * 2 > len(lines):
            return "jsonl"
        return "hf_json"
    # One line holding one object: a JSON Lines record if its keys are Listing fields,
    # otherwise an API object (one item, or an error answer) for the JSON parser to judge.
    if first is not None and set(first) <= _LISTING_FIELDS:
        return "jsonl"
    return "hf_json"


def parse_listing_file(data: bytes, *, name: str, source: str = "file") -> ParseResult:
    """Return the listings of a listing file in any supported format; SourceError names `name`."""
    fmt = detect_format(data)
    try:
        if fmt == "xml" and _ENTITY_DECLARATION.search(data):
            raise SourceError(
                f"{source}: XML with entity declarations is refused (not an arXiv feed)"
            )
        result = _PARSERS[fmt](data, source=source)
        if (
            fmt == "page_text"
            and data.strip()
            and not looks_like_page(decode_text(data, source=source), result)
        ):
            raise SourceError(
                f"{source}: not a listing file: neither JSON nor XML, and not the text of a saved "
                "Daily Papers page (no page header, no card footers)"
            )
    except SourceError as exc:
        # The parsers name the input by its source label; a file is better named by its path.
        detail = str(exc).removeprefix(f"{source}: ")
        raise SourceError(f"{name}: {detail} (read as {fmt})") from exc
    total = len(result.listings) + len(result.rejected)
    if len(result.rejected) * 2 > total:
        raise SourceError(
            f"{name}: {len(result.rejected)} of {total} entries rejected (first: {result.rejected[0]}); "
            f"nothing stored: is this the right file? (read as {fmt})"
        )
    return result


def read_listing_file(path: str | os.PathLike[str], *, source: str = "file") -> ParseResult:
    """Return the listings of the file at path; a missing or unreadable file raises SourceError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror or exc}") from exc
    return parse_listing_file(data, name=str(path), source=source)


def _lenient_text(data: bytes) -> str:
    """Return data as text, leniently: detection must not fail on bytes the parser will report."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8", errors="replace")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _json_object(line: str) -> dict[str, object] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
