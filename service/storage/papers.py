"""Queries of the ledger of papers: papers themselves, their sightings per source, arXiv
categories filled in later, sentence embeddings, and the terms and match counts of recent papers.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Text, and_, case, cast, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.records import Candidate
from service.storage._common import chunks, one_of
from service.storage.models import Paper, PaperEmbedding, Sighting

_STATE_COLUMNS = (
    "arxiv_id", "arxiv_version", "title", "abstract", "authors", "author_count", "categories",
    "published", "abstract_url", "pdf_url", "code_url", "project_url", "thumbnail_url",
    "ai_summary", "ai_keywords", "sources", "upvotes", "comments", "stars",
)  # fmt: skip


def paper_states(session: Session, *, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Stored mergeable fields of the papers with these keys, by key."""
    wanted = sorted(set(keys))
    states: dict[str, dict[str, Any]] = {}
    for chunk in chunks(wanted):
        for paper in session.scalars(select(Paper).where(Paper.key.in_(chunk))):
            states[paper.key] = {name: getattr(paper, name) for name in _STATE_COLUMNS}
    return states


def insert_paper(session: Session, *, key: str, fields: dict[str, Any], now: dt.datetime) -> Paper:
    paper = Paper(key=key, first_seen=now, last_seen=now, **fields)
    session.add(paper)
    return paper


def update_paper(
    session: Session,
    *,
    key: str,
    fields: dict[str, Any],
    now: dt.datetime,
    old_key: str | None = None,
) -> None:
    """Apply changed fields to the paper stored under ``old_key or key``; first_seen is kept."""
    values = dict(fields, last_seen=now)
    if old_key is not None:
        values["key"] = key
    session.execute(update(Paper).where(Paper.key == (old_key or key)).values(**values))


def paper_ids(session: Session, *, keys: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(keys))
    ids: dict[str, int] = {}
    for chunk in chunks(wanted):
        ids.update(session.execute(select(Paper.key, Paper.id).where(Paper.key.in_(chunk))).all())
    return ids


def count_papers(session: Session) -> int:
    return session.scalar(select(func.count(Paper.id))) or 0


def latest_papers(session: Session, *, limit: int = 30) -> list[Candidate]:
    """The most recently first-seen papers, most upvoted first within the same moment."""
    rows = session.execute(
        select_candidates()
        .order_by(Paper.first_seen.desc(), Paper.upvotes.desc().nulls_last(), Paper.id)
        .limit(limit)
    )
    return [candidate_of(row) for row in rows]


def candidates_since(session: Session, *, since: dt.datetime) -> list[Candidate]:
    """Papers first seen at or after ``since``: the pool one run ranks from."""
    rows = session.execute(select_candidates().where(Paper.first_seen >= since).order_by(Paper.id))
    return [candidate_of(row) for row in rows]


def trending_papers(session: Session, *, window: dt.timedelta, limit: int = 30) -> list[Candidate]:
    """Papers first seen within ``window`` of the newest one, most upvoted first."""
    newest = session.scalar(select(func.max(Paper.first_seen)))
    if newest is None:
        return []
    rows = session.execute(
        select_candidates()
        .where(Paper.first_seen >= newest - window)
        .order_by(Paper.upvotes.desc().nulls_last(), Paper.first_seen.desc(), Paper.id)
        .limit(limit)
    )
    return [candidate_of(row) for row in rows]


def sources_of_papers_seen(
    session: Session, *, since: dt.datetime, until: dt.datetime
) -> list[tuple[str, ...]]:
    """The sources of each paper first seen in (since, until]: how many new papers came after
    the previous digest, and from which source (one column, for the rare empty digest)."""
    rows = session.scalars(
        select(Paper.sources).where(Paper.first_seen > since, Paper.first_seen <= until)
    )
    return [tuple(sources or ()) for sources in rows]


def papers_by_id(session: Session, *, ids: Iterable[int]) -> dict[int, Candidate]:
    wanted = sorted(set(ids))
    found: dict[int, Candidate] = {}
    for chunk in chunks(wanted):
        query = select_candidates().where(one_of(session, Paper.id, chunk))
        for row in session.execute(query).all():
            found[row[0]] = candidate_of(row)
    return found


def find_paper_ids(
    session: Session, *, arxiv_id: str | None = None, paper_id: int | None = None
) -> list[int]:
    """Ids of the papers with this arXiv id (without version) or this internal id."""
    query = select(Paper.id)
    if arxiv_id is not None:
        query = query.where((Paper.arxiv_id == arxiv_id) | (Paper.key == arxiv_id))
    elif paper_id is not None:
        query = query.where(Paper.id == paper_id)
    else:
        return []
    return list(session.scalars(query.order_by(Paper.id)))


# Candidate's fields in order, as Paper's columns (``paper_id`` is ``id``): read as plain rows,
# not ORM objects, where only Candidates are wanted (a planning run or a delivery batch). The
# JSON lists are read as their text and decoded once per distinct text (_json_tuple): every
# delivery batch of a day reads the same few hundred papers again, ~4 lists each.
_JSON_LISTS = ("authors", "categories", "sources")
_CANDIDATE_COLUMNS = tuple(
    cast(column, Text).label(name) if name in _JSON_LISTS else column
    for name in Candidate.__slots__  # type: ignore[attr-defined]
    for column in (getattr(Paper, "id" if name == "paper_id" else name),)
)


@functools.lru_cache(maxsize=16384)
def _json_tuple(text: str | None) -> tuple[Any, ...]:
    """A stored JSON list (its text; None or JSON null for none) as a tuple."""
    return tuple(json.loads(text) or ()) if text else ()


def select_candidates() -> Any:
    """``SELECT`` of the columns ``candidate_of`` reads: add the WHERE and ORDER."""
    return select(*_CANDIDATE_COLUMNS)


def candidate_of(row: Sequence[Any]) -> Candidate:
    """A ``select_candidates`` row as a Candidate (JSON lists as tuples, no abstract as "")."""
    (pid, key, title, abstract, arxiv_id, authors, author_count, categories, *rest) = row
    published, first_seen, sources, *links = rest
    return Candidate(
        pid, key, title, abstract or "", arxiv_id, _json_tuple(authors), author_count,
        _json_tuple(categories), published, first_seen, _json_tuple(sources), *links,
    )  # fmt: skip


def to_candidate(paper: Paper) -> Candidate:
    return Candidate(
        paper_id=paper.id, key=paper.key, title=paper.title, abstract=paper.abstract or "",
        arxiv_id=paper.arxiv_id, authors=tuple(paper.authors or ()), author_count=paper.author_count,
        categories=tuple(paper.categories or ()), published=paper.published, first_seen=paper.first_seen,
        sources=tuple(paper.sources or ()), upvotes=paper.upvotes, comments=paper.comments,
        stars=paper.stars, abstract_url=paper.abstract_url, pdf_url=paper.pdf_url,
        code_url=paper.code_url, project_url=paper.project_url, ai_summary=paper.ai_summary,
    )  # fmt: skip


def recent_paper_terms(
    session: Session, *, since: dt.datetime
) -> list[tuple[str, list[str], list[str]]]:
    """(title, ai keywords, categories) of the papers first seen since ``since``."""
    rows = session.execute(
        select(Paper.title, Paper.ai_keywords, Paper.categories).where(Paper.first_seen >= since)
    )
    return [
        (title, list(keywords or ()), list(categories or ()))
        for title, keywords, categories in rows
    ]


def recent_match_counts(
    session: Session, *, since: dt.datetime, checks: Sequence[tuple[str, Sequence[str]]]
) -> tuple[int, list[int]]:
    """Papers first seen since ``since``, and how many of them each check matches, in one query.

    A check is (field, LIKE patterns, lower case, escaped with "!"): "categories" or "authors"
    match when the field's JSON text has any of the patterns; "text" when every pattern is in
    the title or the abstract.
    """

    def like(column: Any, pattern: str) -> Any:
        return func.lower(column).like(pattern, escape="!")

    columns: list[Any] = [func.count(Paper.id)]
    for field, patterns in checks:
        if field == "text":
            condition = and_(
                *(or_(like(Paper.title, p), like(Paper.abstract, p)) for p in patterns)
            )
        else:
            column = cast(Paper.categories if field == "categories" else Paper.authors, Text)
            condition = or_(*(like(column, p) for p in patterns))
        columns.append(func.coalesce(func.sum(case((condition, 1), else_=0)), 0))
    row = session.execute(select(*columns).where(Paper.first_seen >= since)).one()
    return int(row[0]), [int(n) for n in row[1:]]


def _no_categories() -> Any:
    # JSON has no equality in PostgreSQL: compare its text ("[]" as written, or a JSON null).
    return func.coalesce(cast(Paper.categories, Text), "[]").in_(("[]", "null"))


def arxiv_ids_without_categories(
    session: Session, *, since: dt.datetime | None = None, limit: int | None = None
) -> list[str]:
    """arXiv ids of papers without categories (first seen at or after ``since``), newest first."""
    query = select(Paper.arxiv_id).where(Paper.arxiv_id.is_not(None), _no_categories())
    if since is not None:
        query = query.where(Paper.first_seen >= since)
    query = query.order_by(Paper.first_seen.desc(), Paper.id.desc()).limit(limit)
    return list(dict.fromkeys(session.scalars(query)))


def fill_categories(session: Session, *, categories: Mapping[str, Sequence[str]]) -> int:
    """Give papers without categories theirs, by arXiv id; how many papers were filled."""
    filled = 0
    for chunk in chunks(sorted(k for k, v in categories.items() if v)):
        rows = session.scalars(select(Paper).where(Paper.arxiv_id.in_(chunk), _no_categories()))
        for paper in rows:
            paper.categories = list(categories[paper.arxiv_id or ""])
            filled += 1
    return filled


def paper_embeddings(
    session: Session, *, paper_ids: Iterable[int], model: str
) -> dict[int, tuple[str, bytes]]:
    """(text hash, vector bytes) of the papers that have an embedding by ``model``."""
    found: dict[int, tuple[str, bytes]] = {}
    for chunk in chunks(sorted(set(paper_ids))):
        rows = session.execute(
            select(PaperEmbedding.paper_id, PaperEmbedding.text_hash, PaperEmbedding.vector).where(
                PaperEmbedding.model == model, PaperEmbedding.paper_id.in_(chunk)
            )
        )
        found.update({paper_id: (digest, bytes(vector)) for paper_id, digest, vector in rows})
    return found


def save_paper_embeddings(
    session: Session, *, model: str, rows: Sequence[tuple[int, str, bytes]]
) -> None:
    """Store (paper id, text hash, vector) rows, replacing an older text's vector.

    Another process may store the same paper at the same moment: its row wins, whichever it is,
    since both are the same model's vector of the same text.
    """
    if not rows:
        return
    ids = [row[0] for row in rows]
    for chunk in chunks(ids):
        session.execute(
            delete(PaperEmbedding).where(
                PaperEmbedding.model == model, PaperEmbedding.paper_id.in_(chunk)
            )
        )
    values = [
        {"paper_id": pid, "model": model, "text_hash": digest, "vector": vector}
        for pid, digest, vector in rows
    ]
    try:
        with session.begin_nested():
            session.execute(insert(PaperEmbedding), values)
    except IntegrityError:
        for value in values:  # a concurrent writer stored some of them first: keep theirs
            try:
                with session.begin_nested():
                    session.execute(insert(PaperEmbedding), [value])
            except IntegrityError:
                continue


def sighting_observations(
    session: Session, *, paper_ids: Iterable[int], source: str
) -> set[tuple[Any, ...]]:
    """Every recorded (paper_id, listed_on, position, upvotes, comments, stars) of these papers from ``source``."""
    wanted = sorted(set(paper_ids))
    seen: set[tuple[Any, ...]] = set()
    for chunk in chunks(wanted):
        rows = session.execute(
            select(
                Sighting.paper_id,
                Sighting.listed_on,
                Sighting.position,
                Sighting.upvotes,
                Sighting.comments,
                Sighting.stars,
            ).where(Sighting.source == source, Sighting.paper_id.in_(chunk))
        )
        seen.update(tuple(row) for row in rows)
    return seen


def add_sightings(session: Session, *, rows: Iterable[dict[str, Any]]) -> int:
    objects = [Sighting(**row) for row in rows]
    session.add_all(objects)
    return len(objects)


def upvotes_before(
    session: Session, *, paper_ids: Iterable[int], before: dt.datetime
) -> dict[int, int]:
    """Upvotes of each paper at its latest sighting at or before ``before`` (papers sighted then).

    The difference to a paper's current upvotes is what it gained since: its trend velocity.
    """
    wanted = sorted(set(paper_ids))
    found: dict[int, tuple[dt.datetime, int]] = {}
    for chunk in chunks(wanted):
        rows = session.execute(
            select(Sighting.paper_id, Sighting.seen_at, Sighting.upvotes).where(
                Sighting.paper_id.in_(chunk),
                Sighting.seen_at <= before,
                Sighting.upvotes.is_not(None),
            )
        )
        for paper_id, seen_at, upvotes in rows:
            if paper_id not in found or seen_at >= found[paper_id][0]:
                found[paper_id] = (seen_at, upvotes)
    return {paper_id: upvotes for paper_id, (_, upvotes) in found.items()}
