"""Pure text helpers of the digest: URL vetting, cleaning, truncating, wrapping and dates.

Paper data is untrusted: `safe_url` lets only absolute http(s) URLs through and `clean_text`
drops control and bidi control characters, so neither reaches an href, the subject or the
text part. The rest shape strings for the subject and the plain-text part.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

TEXT_WIDTH = 78
# The text part's links of one paper share a line; past this many octets they take several.
LINK_LINE_OCTETS = 900
_SEPARATOR_OCTETS = len(" · ".encode())

# English names on purpose: strftime's %a/%b follow the process locale and %-d is not portable.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS_LONG = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_SAFE_SCHEMES = frozenset({"http", "https"})
# Unicode category Cc is exactly U+0000–U+001F and U+007F–U+009F; a regex beats a per-character
# unicodedata loop by two orders of magnitude, and every digest runs this on every abstract.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional embedding, override and isolate controls and the direction marks: in paper data
# they only serve to disguise text ("gnp.exe" shown as "exe.png"); dir="auto" handles RTL titles.
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_URL_CHAR = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
# http(s)://host[:port][/?#…] with a plain host: urlsplit would accept it, so skip urlsplit.
_PLAIN_HTTP_URL = re.compile(r"(?i:https?)://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#].*)?", re.DOTALL)
# Both at once, for the usual case: a plain http(s) URL with no whitespace or controls.
_PLAIN_SAFE_URL = re.compile(
    r"(?i:https?)://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#][^\s\x00-\x1f\x7f-\x9f]*)?"
)


def safe_url(value: object) -> str:
    """Return `value` if it is an absolute http(s) URL without whitespace or controls, else ""."""
    if not isinstance(value, str):
        return ""
    if _PLAIN_SAFE_URL.fullmatch(value):  # what the checks below would pass unchanged
        return value
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


def links_lines(links: Iterable[tuple[str, str]], indent: str = "    ") -> str:
    """A paper's links in the text part: 'Label: URL · Label: URL' on one line, split at links
    only when the line would pass LINK_LINE_OCTETS (mail lines may not pass 998 octets)."""
    lines: list[str] = []
    line: list[str] = []
    octets = 0  # of " · ".join(line) in UTF-8, counted as items are added
    for label, url in links:
        item = f"{label}: {url}"
        size = len(item) if item.isascii() else len(item.encode())
        if line and octets + _SEPARATOR_OCTETS + size > LINK_LINE_OCTETS:
            lines.append(" · ".join(line))
            line = []
        if line:
            line.append(item)
            octets += _SEPARATOR_OCTETS + size
        else:
            line = [indent + item]
            octets = len(indent.encode()) + size
    if line:
        lines.append(" · ".join(line))
    return "\n".join(lines)


def tidy_text(text: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines left by template logic."""
    lines = [line.rstrip() for line in text.splitlines()]
    # A blank line stays only after a line with text: none at the start, one at most between.
    out = [line for before, line in zip(["", *lines], lines, strict=False) if line or before]
    if out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"
