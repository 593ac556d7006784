"""Steering from the email: "mute <author>" and "not interested in <phrase>", per paper.

Pure. Each is an exclude topic on the interest the paper was picked for: muting an author adds
``exclude:author:<name>`` (the ranking drops the papers that author signed, names compared as
`ranking.authors.author_matches` does: accents, case and initials tolerated), and "not
interested in" adds ``exclude:<phrase>`` (papers containing every word of it are dropped).

The author offered is the paper's first named author. The phrase is the paper's first Hugging
Face keyword that is not one of the words it matched the reader's topics with, else the longest
distinctive word of its title (not a stop word, a generic research word or a matched word):
never the reason the reader got the paper, which they asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from service.ranking.reason_labels import label_words
from service.records import Candidate, Reason, ScoredPaper

AUTHOR_PREFIX = "author:"
MAX_PHRASE_WORDS = 3
MAX_TEXT = 120

_WORD = re.compile(r"[^\W\d_][\w-]*[^\W_]", re.UNICODE)
_GENERIC = frozenset(
    """a an and are as at be by can do does for from how in into is it its of on or our the to
    toward towards via vs what when where which who why with without we you your than that this
    these those using use based new novel approach approaches method methods model models
    framework study analysis towards learning deep neural network networks large data dataset
    datasets task tasks system systems results paper efficient improving improved effective
    beyond through under over via all more less""".split()
)


def mute_author(paper: Candidate) -> str:
    """The name a "mute" link offers: the first named author, "" when the paper names none."""
    return _first_author(paper.authors)


def _first_author(authors: Iterable[str]) -> str:
    for name in authors:
        clean = " ".join(str(name).split())
        if clean:
            return clean[:MAX_TEXT]
    return ""


def matched_terms(scored: ScoredPaper) -> frozenset[str]:
    """The (casefolded) words the paper matched the reader's topics with: from the ranker's
    terms and topic, or, for a stored reason (its label only), from the label."""
    return _matched_terms(scored.reasons)


@lru_cache(maxsize=8192)
def _matched_terms(reasons: tuple[Reason, ...]) -> frozenset[str]:
    """matched_terms, once per list of reasons (a day's digests share a few thousand)."""
    words = set()
    for reason in reasons:
        terms, topic = reason.terms, reason.topic
        if not terms and not topic:
            topic, terms = label_words(reason.label) or ("", ())
        for term in terms:
            words.update(term.casefold().split())
        if topic:
            words.update(topic.casefold().split())
    return frozenset(words)


@lru_cache(maxsize=4096)
def _title_words(title: str) -> tuple[str, ...]:
    """The title's words of four letters or more that are not generic, in order (the same for
    every reader of the paper: a digest run asks once per paper, not once per reader)."""
    return tuple(w for w in _WORD.findall(title) if len(w) >= 4 and w.casefold() not in _GENERIC)


def exclude_phrase(paper: Candidate, matched: Iterable[str] = ()) -> str:
    """A word or short phrase of the paper a reader may not want; "" when none stands out."""
    # a Listing has ai_keywords, a Candidate not yet
    return _phrase(paper.title, tuple(getattr(paper, "ai_keywords", ())), matched)


def _phrase(title: str, keywords: Iterable[str], matched: Iterable[str]) -> str:
    taken = {word.casefold() for word in matched}

    def fresh(phrase: str) -> bool:
        words = phrase.casefold().split()
        return bool(words) and not any(w in taken or w in _GENERIC for w in words)

    for keyword in keywords:
        phrase = " ".join(str(keyword).split())
        if fresh(phrase) and len(phrase.split()) <= MAX_PHRASE_WORDS and len(phrase) <= MAX_TEXT:
            return phrase
    words = [w for w in _title_words(title) if w.casefold() not in taken]
    if not words:
        return ""
    best = max(words, key=len)  # the first of the longest: the most specific, usually
    return best if best.isupper() or any(c.isupper() for c in best[1:]) else best.lower()


def is_author_exclude(text: str) -> bool:
    return text[: len(AUTHOR_PREFIX)].casefold() == AUTHOR_PREFIX


def author_exclude(name: str) -> str:
    """The exclude topic text that mutes an author: ``author:Jane Doe``."""
    return f"{AUTHOR_PREFIX}{name}"


def steer_label(kind: str, text: str) -> str:
    """What a steering link says: ``Mute Jane Doe`` or ``Not interested in “fuzzing”``."""
    return f"Mute {text}" if kind == "author" else f"Not interested in “{text}”"


def steer_choices(scored: ScoredPaper) -> tuple[tuple[str, str], ...]:
    """(kind, text) of the links a paper gets: ("author", name) and ("phrase", phrase), each
    when the paper has one."""
    paper = scored.paper
    keywords = tuple(getattr(paper, "ai_keywords", ()))  # a Listing has them, a Candidate not yet
    return _choices(paper.authors, paper.title, keywords, matched_terms(scored))


@lru_cache(maxsize=8192)
def _choices(
    authors: tuple[str, ...], title: str, keywords: tuple[str, ...], matched: frozenset[str]
) -> tuple[tuple[str, str], ...]:
    """steer_choices, once per paper and set of matched words (the same for most of its
    readers); keyed on the fields it reads, which hash faster than the whole paper."""
    choices = []
    author = _first_author(authors)
    if author:
        choices.append(("author", author))
    phrase = _phrase(title, keywords, matched)
    if phrase:
        choices.append(("phrase", phrase))
    return tuple(choices)
