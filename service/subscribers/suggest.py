"""Pure: topic suggestions for the subscribe form from recent papers' keywords and categories.

Listings from Hugging Face carry ``ai_keywords`` and arXiv listings categories; a saved page
carries neither, so phrases that recur in recent titles fill the list up.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]+")
_STOP = frozenset(
    """a an and are as at based be by for from in into is it its of on or the their this to towards
    via vs we what when where which while with without using through under over can do does how
    our new large beyond more than toward all one two not your you need is are""".split()
)


def title_phrases(title: str) -> set[str]:
    """Two-word phrases of a title with no stop word in them, lower-cased."""
    words = [w.lower() for w in _WORD.findall(title)]
    return {
        f"{a} {b}"
        for a, b in zip(words, words[1:], strict=False)
        if a not in _STOP and b not in _STOP and len(a) > 2 and len(b) > 2
    }


def suggest_topics(
    papers: Iterable[tuple[str, Iterable[str], Iterable[str]]], *, limit: int = 40
) -> list[str]:
    """Up to ``limit`` suggestions from (title, keywords, categories) of recent papers.

    What recurs comes first: keywords, ``category:`` entries and title phrases found in at least
    two papers, most frequent first (a keyword before a phrase at the same count); then keywords
    and categories of one paper. Ties are broken alphabetically, so the list is stable.
    """
    keywords: Counter[str] = Counter()
    phrases: Counter[str] = Counter()
    for title, paper_keywords, categories in papers:
        keywords.update({" ".join(k.split()).lower() for k in paper_keywords if k.strip()})
        keywords.update({f"category:{c.strip()}" for c in categories if c.strip()})
        phrases.update(title_phrases(title))
    for phrase in keywords.keys() & phrases.keys():  # a keyword also seen in other titles recurs
        keywords[phrase] = max(keywords[phrase], phrases[phrase])
    recurring = [(k, n, 0) for k, n in keywords.items() if n >= 2]
    recurring += [(p, n, 1) for p, n in phrases.items() if n >= 2 and p not in keywords]
    ranked = sorted(recurring, key=lambda e: (-e[1], e[2], e[0]))
    ranked += sorted((k, n, 0) for k, n in keywords.items() if n < 2)
    return [text for text, _, _ in ranked[:limit]]
