"""Which of a reader's topics matched no paper lately: a typo, or a category no source fills.

One store query counts the papers first seen in the last `WINDOW` that could match each topic,
by the same rules the ranking uses, loosened so that the check never calls a topic quiet when
the ranking could still match it:

- category: the paper's categories hold it (any case);
- author: some author name holds the surname (as typed, in lower case, or without accents;
  names are matched in their stored JSON text, so a surname typed without the accents that
  the papers spell, "Erdos" for "Erdős", is called quiet although the ranking matches it);
- keyword: title or abstract hold every topic word that is not a stop word, as the stem's
  prefix ("equations" for "equation"); meaning-only matches are not seen by this check.

Nothing is said when no paper at all was first seen in the window (the ingest is down, or the
service is new): then every topic would look quiet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import unicodedata
from collections.abc import Iterable, Sequence

import bm25s
import Stemmer
from sqlalchemy.orm import Session

from service.records import Topic
from service.storage import store

WINDOW = dt.timedelta(days=14)
_STEMMER = Stemmer.Stemmer("english")


def _like(text: str) -> str:
    return "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _check(topic: Topic) -> tuple[str, list[str]] | None:
    text = topic.text.strip()
    if topic.kind == "category":
        return "categories", [_like(json.dumps(text.lower()))]
    if topic.kind == "author":
        parts = text.replace(".", " ").replace("-", " ").replace(",", " ").split()
        if not parts:
            return None
        name = parts[-1]
        forms = {
            json.dumps(name.lower())[1:-1],
            json.dumps(name)[1:-1].lower(),
            name.lower(),
            _fold(name),
        }
        return "authors", [_like(form) for form in sorted(forms)]
    if topic.kind == "keyword":
        words = bm25s.tokenize([text], stopwords="en", return_ids=False, show_progress=False)[0]
        stems = [os.path.commonprefix([w, _STEMMER.stemWord(w)]) or w for w in words]
        return ("text", [_like(stem) for stem in dict.fromkeys(stems)]) if stems else None
    return None  # exclude topics cannot be quiet


def quiet_topics(session: Session, *, topics: Iterable[Topic], now: dt.datetime) -> list[Topic]:
    """The topics that matched no paper first seen in the last `WINDOW` (in the order given)."""
    checked: list[tuple[Topic, tuple[str, list[str]]]] = []
    for topic in topics:
        check = _check(topic)
        if check is not None:
            checked.append((topic, check))
    if not checked:
        return []
    total, counts = store.recent_match_counts(
        session, since=now - WINDOW, checks=[check for _, check in checked]
    )
    if not total:
        return []
    return [topic for (topic, _), count in zip(checked, counts, strict=True) if count == 0]


def describe(topic: Topic) -> str:
    """`category:cs.CV` as a person types it; a keyword as itself."""
    return topic.text if topic.kind == "keyword" else f"{topic.kind}:{topic.text}"


def warning(topics: Sequence[Topic]) -> list[str]:
    days = WINDOW.days
    return [f'topic "{describe(t)}" matched no paper in the last {days} days' for t in topics]
