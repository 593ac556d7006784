"""A subscriber's ranking inputs from the store, handed to the pure ``rank``.

``build_index`` makes the one ``RelevanceIndex`` of a run (candidates of the widest window, their
upvotes a day ago for the trend velocity, the semantic scorer when enabled);
``rank_for_subscriber`` gathers one subscriber's preferences, history and votes and ranks: each
of their interests with its own topics and liked papers, combined into sections
(``ranking/sections.py``) when they have several.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from service import logs
from service.ranking.feedback import Votes
from service.ranking.index import RelevanceIndex, SemanticScorer
from service.ranking.rank import rank
from service.ranking.sections import InterestSpec, combine
from service.ranking.trend import VELOCITY_WINDOW
from service.records import Candidate, ScoredPaper, Topic
from service.settings import Settings
from service.storage import store
from service.storage.rows import ReadSubscriber

log = logs.get_logger(__name__)


def topics_of(subscriber: ReadSubscriber) -> list[Topic]:
    return [Topic(t.kind, t.text, t.weight) for t in subscriber.topics]


def interest_specs(session: Session, *, subscriber_id: int) -> list[InterestSpec]:
    """The subscriber's interests as the ranker takes them, liked papers included."""
    return specs_of(session, subscriber_ids=[subscriber_id]).get(subscriber_id, [])


def specs_of(session: Session, *, subscriber_ids: Sequence[int]) -> dict[int, list[InterestSpec]]:
    """Interests of many subscribers as the ranker takes them, in a few queries."""
    found = store.interests_of(session, subscriber_ids=subscriber_ids)
    liked_ids = {lk.paper_id for rows in found.values() for row in rows for lk in row.likes}
    papers = store.papers_by_id(session, ids=liked_ids) if liked_ids else {}
    return {
        sid: [
            InterestSpec(
                row.name,
                row.topics,
                row.share,
                tuple(papers[lk.paper_id] for lk in row.likes if lk.paper_id in papers),
            )  # fmt: skip
            for row in rows
        ]
        for sid, rows in found.items()
    }


def semantic_scorer(
    settings: Settings, candidates: list, session: Session | None = None
) -> SemanticScorer | None:  # type: ignore[type-arg]
    """The embedding scorer for these candidates per ``PAPERBOY_SEMANTIC`` (None: lexical only).

    With a session, the candidates' stored vectors are used and the missing ones embedded and
    stored (the caller commits); without one, they are embedded in memory.
    """
    if settings.semantic == "off" or not candidates:
        return None
    from service.ledger import embeddings
    from service.ranking import semantic

    if session is None:
        return semantic.EmbeddingScorer.for_texts(candidates)
    return semantic.EmbeddingScorer(embeddings.paper_vectors(session, candidates))


def build_index(session: Session, *, settings: Settings, now: dt.datetime) -> RelevanceIndex:
    """One index per run over the widest candidate window any subscriber can have."""
    since = now - dt.timedelta(days=max(settings.candidate_days, 7))
    candidates = store.candidates_since(session, since=since)
    before = store.upvotes_before(
        session, paper_ids=[c.paper_id for c in candidates], before=now - VELOCITY_WINDOW
    )
    index = RelevanceIndex(
        candidates,
        now=now,
        upvotes_before=before,
        semantic=semantic_scorer(settings, candidates, session),
    )
    log.info("rank_index", candidates=len(index), semantic=index.semantic is not None)
    return index


def candidate_since(
    *,
    settings: Settings,
    subscriber: ReadSubscriber,
    now: dt.datetime,
    previous: dt.datetime | None,
) -> dt.datetime:
    """Papers first seen after the previous digest are candidates.

    A first digest looks back ``PAPERBOY_CANDIDATE_DAYS`` (a week for weekly subscribers).
    """
    days = (
        max(settings.candidate_days, 7)
        if subscriber.cadence == "weekly"
        else settings.candidate_days
    )
    window = now - dt.timedelta(days=days)
    return max(previous, window) if previous else window


@dataclass(frozen=True, slots=True)
class History:
    """What planning reads about a subscriber, fetched for many at once (see ``histories``)."""

    last_sent_at: dt.datetime | None
    received: frozenset[int]
    votes: dict[int, int]
    voted_papers: dict[int, Candidate]
    interests: tuple[InterestSpec, ...] | None = None  # None: read when ranking


def histories(
    session: Session, *, subscriber_ids: Sequence[int]
) -> dict[int, tuple[dt.date | None, History]]:
    """(last sent digest date, History) per subscriber, in a few queries for the whole chunk."""
    sent = store.planning_history(session, subscriber_ids=subscriber_ids)
    votes = store.feedback_votes(session, subscriber_ids=subscriber_ids)
    voted_ids = {pid for per in votes.values() for pid in per}
    voted_papers = store.papers_by_id(session, ids=voted_ids) if voted_ids else {}
    specs = specs_of(session, subscriber_ids=subscriber_ids)
    result = {}
    for sid in subscriber_ids:
        last_date, last_sent, received = sent[sid]
        mine = votes.get(sid, {})
        result[sid] = (
            last_date,
            History(
                last_sent,
                frozenset(received),
                mine,
                {pid: voted_papers[pid] for pid in mine if pid in voted_papers},
                tuple(specs.get(sid, ())),
            ),
        )
    return result


def rank_for_subscriber(
    session: Session,
    *,
    settings: Settings,
    subscriber: ReadSubscriber,
    index: RelevanceIndex,
    now: dt.datetime,
    topics: Sequence[Topic] | None = None,
    max_papers: int | None = None,
    floor: float | None = None,
    trending_share: float | None = None,
    history: History | None = None,
    interests: Sequence[InterestSpec] | None = None,
) -> list[ScoredPaper]:
    """What ``subscriber`` gets now: their interests, floor, trending share, history and votes.

    ``interests`` (or ``topics``: one interest), ``max_papers``, ``floor`` and ``trending_share``
    override the stored ones (the manage page's unsaved preview); None keeps the stored one, or
    the service default. With several interests, each is ranked with its own topics and liked
    papers and the picks come in sections (``ScoredPaper.interest`` names the section).
    """
    if floor is None:
        floor = (
            settings.relevance_floor
            if subscriber.relevance_floor is None
            else subscriber.relevance_floor
        )
    share = trending_share
    if share is None:
        share = (
            settings.trending_share
            if subscriber.trending_share is None
            else subscriber.trending_share
        )
    if history is None:
        votes = store.feedback_votes(session, subscriber_ids=[subscriber.id]).get(subscriber.id, {})
        history = History(
            store.last_sent_at(session, subscriber_id=subscriber.id),
            frozenset(store.received_paper_ids(session, subscriber_id=subscriber.id)),
            votes,
            store.papers_by_id(session, ids=votes.keys()) if votes else {},
        )
    if interests is None:
        if topics is not None:
            interests = [InterestSpec("", tuple(topics))]
        else:
            stored = history.interests
            if stored is None:
                stored = tuple(interest_specs(session, subscriber_id=subscriber.id))
            interests = list(stored) or [InterestSpec("", tuple(topics_of(subscriber)))]
    # A paper they already voted on has been read: never offer it again.
    seen = set(history.received) | set(history.votes)
    votes = Votes.from_mapping(history.votes, history.voted_papers)
    since = candidate_since(
        settings=settings, subscriber=subscriber, now=now, previous=history.last_sent_at
    )
    limit = max_papers if max_papers is not None else subscriber.max_papers
    picks = []
    for interest in interests:
        # The papers added to an interest pull similar ones up, as liked papers do; they are
        # read already, so never offered themselves.
        added = tuple(p for p in interest.liked if p.paper_id not in history.votes)
        mine = Votes(votes.liked + added, votes.disliked, frozenset(p.paper_id for p in added))
        picks.append(
            rank(
                index,
                topics=list(interest.topics),
                since=since,
                already_sent=seen | {p.paper_id for p in interest.liked},
                max_papers=limit,
                floor=floor,
                trending_share=share,
                votes=mine if len(mine) else None,
            )
        )
    if len(interests) == 1:
        return picks[0][:limit]
    return combine(interests, picks, limit)
