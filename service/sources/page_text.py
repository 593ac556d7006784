"""Parse the plain text of a saved Hugging Face "Daily Papers" page into listings.

A saved page is a header, then one card per paper: a title line, an abstract line and, on some
saves, a card footer (`• 7 authors`, `·`, `Aug 20, 2025 42`, or all of it on one line). Copying
the page by hand glues and splits lines in different ways, so the parser decides title vs
abstract by the alternation of the cards but checks each guess, and rejects a malformed card
(with its line number) instead of shifting every later title onto an abstract.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from service.errors import SourceError
from service.records import Listing, ParseResult, Rejected

# Header lines of both page variants, compared after collapsing whitespace and case-folding.
_HEADER_LINES = frozenset(
    {
        "new",
        "get trending papers in your email inbox once a day!",
        "get trending papers in your email inbox!",
        "subscribe",
        "daily papers",
        "byak and the research community",
        "by ak and the research community",
    }
)

# The lines only a Daily Papers page has (not "new" or "Subscribe", which any text may hold).
_PAGE_MARKERS = _HEADER_LINES - {"new", "subscribe"}
_MARKER_SEARCH_LINES = 50  # the header is at the top: look no further than this many lines

# "Subscribe" is a button; copying the page glues its label to whatever follows
# ("SubscribeCalibration and ..."). A lower-case letter after it means a real word ("Subscriber").
_GLUED_SUBSCRIBE = re.compile(r"Subscribe(?=[^a-z\s])")

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# The listing day under the header: "Aug 20" (sometimes with a year).
_DAY_LINE = re.compile(rf"{_MONTH}\s+(?P<day>\d{{1,2}})(?:,\s*(?P<year>\d{{4}}))?", re.IGNORECASE)
# A card footer, whole or in pieces: "• 7 authors", "·", "Aug 20, 2025", "Aug 20, 2025 42",
# "• 7 authors · Aug 20, 2025 42". The bullets are optional because some copies drop them.
_FOOTER_LINE = re.compile(
    r"(?:[•·]\s*)?"
    r"(?:(?P<authors>\d+)\s+authors?\b\s*)?"
    r"(?:[•·]\s*)?"
    rf"(?:{_MONTH}\s+(?P<day>\d{{1,2}}),\s*(?P<year>\d{{4}})(?:\s+(?P<upvotes>\d+))?)?",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"\d+")
_SENTENCE_BREAK = re.compile(r"[.!?]\s+[A-Z(\"']")

# No arXiv title comes near this length; every Daily Papers abstract goes past it.
_MAX_TITLE_CHARS = 300


def decode_text(data: bytes, *, source: str) -> str:
    """Return bytes decoded as text (UTF-8, or UTF-16 with a BOM); raise SourceError if binary."""
    # Windows editors save "Unicode" text as UTF-16 with a BOM; accept it rather than call it binary.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{source}: invalid UTF-16 text at byte {exc.start}") from exc
    nul = data.find(b"\x00")
    if nul != -1:
        raise SourceError(f"{source}: binary data, not text (NUL byte at offset {nul})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise SourceError(
            f"{source}: not UTF-8 text (byte 0x{bad:02x} at offset {exc.start})"
        ) from exc


def looks_like_page(text: str, result: ParseResult) -> bool:
    """True when ``text`` bears the marks of a saved Daily Papers page: a line of its header near
    the top, or card footers ("• 7 authors · Aug 20, 2025") under most of the papers it gave.

    Any text at all parses into some "papers"; a file that is none of the known formats must be
    refused, not stored line by line.
    """
    seen = 0
    for raw in re.split(r"\r\n|\r|\n", text):
        line = collapse_ws(raw)
        if not line:
            continue
        if line.casefold() in _PAGE_MARKERS:
            return True
        seen += 1
        if seen >= _MARKER_SEARCH_LINES:
            break
    with_footer = sum(1 for item in result.listings if item.author_count is not None)
    return with_footer > 0 and with_footer * 2 >= len(result.listings)


def collapse_ws(text: str) -> str:
    """Return text stripped, with every run of whitespace (line breaks included) made one space."""
    return " ".join(text.split())


@dataclass(slots=True)
class _Footer:
    author_count: int | None = None
    published: dt.date | None = None
    upvotes: int | None = None
    has_date: bool = False


@dataclass(slots=True)
class _Token:
    line: int  # 1-based line number in the input
    kind: str  # "text", "footer" or "day"
    text: str = ""
    footer: _Footer | None = None
    day: tuple[int, int, int | None] | None = None  # (month, day, year or None)


@dataclass(slots=True)
class _Card:
    line: int
    position: int
    title: str
    abstract: str = ""
    footer: _Footer = field(default_factory=_Footer)


def parse_page_text(data: bytes, *, source: str = "file") -> ParseResult:
    """Return the papers of a saved Daily Papers page, in page order, and the cards it rejected.

    Positions are the 1-based card order on the page (a rejected card keeps its slot). Empty or
    paper-less input gives an empty result; undecodable or binary input raises SourceError.
    """
    tokens = _tokenize(decode_text(data, source=source))
    cards, rejected = _assemble(tokens)

    listed_on = _listing_day(tokens)
    listings = [
        Listing(
            title=card.title,
            abstract=card.abstract,
            source=source,
            author_count=card.footer.author_count,
            published=card.footer.published,
            listed_on=listed_on,
            position=card.position,
            upvotes=card.footer.upvotes,
        )
        for card in cards
    ]
    return ParseResult(listings=listings, rejected=rejected, listed_on=listed_on)


def _tokenize(text: str) -> list[_Token]:
    """Classify each non-blank line as paper text, footer piece or listing day; drop the header."""
    tokens: list[_Token] = []
    seen_text = False
    # Only \r\n, \r and \n end a line: str.splitlines would also split on characters such as
    # U+2028 inside an abstract and make line numbers disagree with an editor's.
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        line = raw.strip()
        if not seen_text:
            glued = _GLUED_SUBSCRIBE.match(line)
            if glued:
                line = line[glued.end() :].strip()
        if not line or collapse_ws(line).casefold() in _HEADER_LINES:
            continue
        footer = _match_footer(line)
        if footer is not None:
            if not seen_text and footer.has_date and footer.author_count is None:
                # Above the first card a full date is the listing day, not a paper's footer.
                tokens.append(_Token(number, "day", day=_day_of(line)))
            else:
                tokens.append(_Token(number, "footer", footer=footer))
            continue
        previous = tokens[-1] if tokens else None
        if (
            _BARE_NUMBER.fullmatch(line)
            and previous is not None
            and previous.footer is not None
            and previous.footer.has_date
            and previous.footer.upvotes is None
        ):
            # Some copies put the upvote count on its own line after the footer date.
            previous.footer.upvotes = int(line)
            continue
        day = _day_of(line)
        if day is not None:
            # "Aug 20" above the cards is the listing day; anywhere else it is page furniture.
            if not seen_text:
                tokens.append(_Token(number, "day", day=day))
            continue
        seen_text = True
        tokens.append(_Token(number, "text", text=collapse_ws(line)))
    return tokens


def _match_footer(line: str) -> _Footer | None:
    match = _FOOTER_LINE.fullmatch(line)
    if match is None:
        return None
    footer = _Footer()
    if match["authors"] is not None:
        footer.author_count = int(match["authors"])
    if match["year"] is not None:
        footer.has_date = True
        footer.published = _make_date(int(match["year"]), match["mon"], int(match["day"]))
        if match["upvotes"] is not None:
            footer.upvotes = int(match["upvotes"])
    # With neither authors nor date the line is only bullets: the separator between them.
    return footer


def _day_of(line: str) -> tuple[int, int, int | None] | None:
    match = _DAY_LINE.fullmatch(line)
    if match is None:
        return None
    year = int(match["year"]) if match["year"] is not None else None
    return _MONTHS[match["mon"][:3].lower()], int(match["day"]), year


def _make_date(year: int, month_name: str, day: int) -> dt.date | None:
    try:
        return dt.date(year, _MONTHS[month_name[:3].lower()], day)
    except ValueError:
        return None  # "Feb 30, 2025": keep the card, drop the impossible date


def _assemble(tokens: list[_Token]) -> tuple[list[_Card], list[Rejected]]:
    """Pair title and abstract lines into cards and attach footers; reject what does not fit."""
    cards: list[_Card] = []
    rejected: list[Rejected] = []
    pending: _Card | None = None  # a title still waiting for its abstract
    current: _Card | None = None  # the last complete card, which footers belong to
    position = 0

    def reject(card: _Card, why: str) -> None:
        rejected.append(Rejected(f"line {card.line}", f"title {_clip(card.title)} {why}"))

    for index, token in enumerate(tokens):
        if token.kind == "day":
            continue
        if token.footer is not None:
            if pending is not None:
                # The card ended before any abstract: the footer closes a card without one.
                reject(pending, "has no abstract (a card footer follows it)")
                pending = current = None
            elif current is not None:
                _merge_footer(current.footer, token.footer)
            continue

        text = token.text
        if pending is None:
            position += 1
            current = None
            if _looks_like_paragraph(text):
                rejected.append(
                    Rejected(f"line {token.line}", "abstract-like text with no title before it")
                )
            else:
                pending = _Card(token.line, position, text)
            continue

        following = _next_text(tokens, index)
        if (
            not _looks_like_paragraph(text)
            and following is not None
            and _looks_like_paragraph(following)
        ):
            # Two title-like lines in a row and then an abstract: the first title lost its
            # abstract, and this line starts the next card.
            reject(pending, "has no abstract (another title follows it)")
            position += 1
            pending = _Card(token.line, position, text)
            continue
        pending.abstract = text
        cards.append(pending)
        current, pending = pending, None

    if pending is not None:
        reject(pending, "has no abstract (the input ends)")
    return cards, rejected


def _next_text(tokens: list[_Token], index: int) -> str | None:
    """Return the text of the token after index if it is paper text (a footer ends the card)."""
    if index + 1 < len(tokens) and tokens[index + 1].kind == "text":
        return tokens[index + 1].text
    return None


def _looks_like_paragraph(text: str) -> bool:
    """True for text that cannot be a title: very long, or several full sentences."""
    if len(text) > _MAX_TITLE_CHARS:
        return True
    # Titles may hold a full stop ("GaSNet). II. Using ...") but do not end as prose does.
    return len(text) > 120 and text[-1] in ".!?" and len(_SENTENCE_BREAK.findall(text)) >= 2


def _merge_footer(into: _Footer, new: _Footer) -> None:
    """Fill the card's footer fields from one more footer piece; the first value seen wins."""
    if into.author_count is None:
        into.author_count = new.author_count
    if into.published is None:
        into.published = new.published
    if into.upvotes is None:
        into.upvotes = new.upvotes
    into.has_date = into.has_date or new.has_date


def _listing_day(tokens: list[_Token]) -> dt.date | None:
    """Return the page's listing day if it carries one and its year is known or inferable."""
    day = next((t.day for t in tokens if t.kind == "day" and t.day is not None), None)
    if day is None:
        return None
    month, mday, year = day
    if year is not None:
        return _safe_date(year, month, mday)
    published = [t.footer.published for t in tokens if t.footer is not None and t.footer.published]
    if not published:
        return None  # "Aug 20" alone: guessing the year would be inventing data
    latest = max(published)
    # The listing day is close to the newest paper on it; trying the neighbouring years too
    # handles a page of Jan 2 whose newest paper is dated Dec 31 of the year before.
    candidates = [
        d
        for y in (latest.year - 1, latest.year, latest.year + 1)
        if (d := _safe_date(y, month, mday)) is not None
    ]
    return min(candidates, key=lambda d: abs((d - latest).days), default=None)


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _clip(title: str, limit: int = 80) -> str:
    return repr(title if len(title) <= limit else title[: limit - 1] + "…")
