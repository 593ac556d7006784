"""Queries of feedback votes: a subscriber's +1 / -1 on a paper, and the votes of many subscribers.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage._common import chunks
from service.storage.models import Feedback


def record_feedback(
    session: Session, *, subscriber_id: int, paper_id: int, vote: int, now: dt.datetime
) -> bool:
    """Store a subscriber's vote (+1 or -1) on a paper; a later vote replaces an earlier one.

    Returns True when the stored vote changed (a repeated click changes nothing).
    """
    if vote not in (1, -1):
        raise ValueError(f"vote must be +1 or -1, got {vote!r}")
    existing = session.scalars(
        select(Feedback).where(
            Feedback.subscriber_id == subscriber_id, Feedback.paper_id == paper_id
        )
    ).first()
    if existing is None:
        session.add(
            Feedback(subscriber_id=subscriber_id, paper_id=paper_id, vote=vote, created_at=now)
        )
        session.flush()
        return True
    if existing.vote == vote:
        return False
    existing.vote = vote
    existing.created_at = now
    return True


def feedback_votes(session: Session, *, subscriber_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """Votes per subscriber: ``{subscriber_id: {paper_id: vote}}``."""
    votes: dict[int, dict[int, int]] = {}
    for chunk in chunks(list(subscriber_ids)):
        rows = session.execute(
            select(Feedback.subscriber_id, Feedback.paper_id, Feedback.vote).where(
                Feedback.subscriber_id.in_(chunk)
            )
        )
        for subscriber_id, paper_id, vote in rows:
            votes.setdefault(subscriber_id, {})[paper_id] = vote
    return votes
