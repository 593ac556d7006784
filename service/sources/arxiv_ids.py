"""arXiv identifiers: recognise every spelling a source uses, and build the canonical links."""

from __future__ import annotations

import re

# The optional wrappers around an id, as sources really write them: a bare id, the "arXiv:"
# prefix of citations and RSS text, the OAI guid of arXiv RSS, and abs/pdf URLs of any vintage.
_PREFIX = r"(?:arxiv:|oai:arxiv\.org:|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)?"

# New-style ids (April 2007 on) are YYMM.NNNN, five digits from January 2015 (YYMM 1501);
# old-style ids are archive[.SUBJECT]/YYMMNNN, e.g. hep-th/9901001 or math.GT/0309136.
_NEW = r"(?P<yymm>\d{4})\.(?P<num>\d{4,5})"
_OLD = r"(?P<archive>[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2}(?:-[a-z]{2})?)?)/(?P<oldyymm>\d{4})\d{3}"

_ID_RE = re.compile(
    rf"{_PREFIX}(?P<id>{_NEW}|{_OLD})(?:v(?P<version>\d+))?(?:\.pdf)?/?",
    re.IGNORECASE,
)


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """Return (id without version, version or None) for an arXiv id in any usual spelling, else None.

    The whole text must be the id (or a URL / prefix wrapping it): an id inside a sentence is not
    recognised, so a title that happens to contain digits never becomes an id.
    """
    if not isinstance(text, str):
        return None
    match = _ID_RE.fullmatch(text.strip())
    if match is None:
        return None
    arxiv_id = match["id"]
    if match["yymm"] is not None:
        if not _valid_month(match["yymm"]):
            return None
        # Four-digit numbers belong to 0704..1412, five-digit ones to 1501 on: anything else is
        # a date or a version string that merely looks like an id.
        five_digits = len(match["num"]) == 5
        if five_digits != (match["yymm"] >= "1501"):
            return None
    else:
        if not _valid_month(match["oldyymm"]):
            return None
        # The archive part is lower case ("hep-th"), only the subject class is upper case.
        archive, _, rest = arxiv_id.partition("/")
        head, dot, subject = archive.partition(".")
        arxiv_id = f"{head.lower()}{dot}{subject}/{rest}"
    version = int(match["version"]) if match["version"] is not None else None
    if version == 0:  # arXiv versions start at 1
        return None
    return arxiv_id, version


def _valid_month(yymm: str) -> bool:
    return 1 <= int(yymm[2:]) <= 12


def abs_url(arxiv_id: str) -> str:
    """Return the canonical abstract-page URL of an arXiv id (https://arxiv.org/abs/ID)."""
    return f"https://arxiv.org/abs/{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    """Return the canonical PDF URL of an arXiv id (https://arxiv.org/pdf/ID)."""
    return f"https://arxiv.org/pdf/{arxiv_id}"
