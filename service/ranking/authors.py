"""Pure: author names compared as people write them (accents, case and initials tolerated).

``fold`` is the accent and case folding the ranking applies to every text it compares (the
relevance index folds titles and abstracts with it too); ``author_matches`` is how an author topic
finds its papers and ``author_key`` is the feature an author adds to a paper's tf-idf vector.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """``text`` with its accents dropped and its case folded: "Schrödinger" → "schrodinger"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def name_parts(name: str) -> list[str]:
    """The folded words of a name, initials' dots, hyphens and commas taken as spaces."""
    return fold(name).replace(".", " ").replace("-", " ").replace(",", " ").split()


def author_matches(wanted: str, author: str) -> bool:
    """Name match tolerant of accents, case and initials: "Y. LeCun" matches "Yann LeCun"."""
    want, have = name_parts(wanted), name_parts(author)
    if not want or not have or want[-1] != have[-1]:
        return False
    firsts_w, firsts_h = want[:-1], have[:-1]
    if not firsts_w or not firsts_h:
        return True
    return all(
        (w == h) or (len(w) == 1 and h.startswith(w)) or (len(h) == 1 and w.startswith(h))
        for w, h in zip(firsts_w, firsts_h, strict=False)
    )


def author_key(name: str) -> str:
    """A feature for an author: folded surname and first initial ("lecun y" for "Yann LeCun")."""
    parts = name_parts(name)
    if not parts:
        return ""
    return f"@{parts[-1]} {parts[0][0]}" if len(parts) > 1 else f"@{parts[-1]}"
