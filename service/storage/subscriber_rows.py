"""Subscribers read as plain rows in two Core queries a chunk: their columns, then their topics.

The planner reads every due subscriber and a delivery worker every subscriber of its batch, and
neither writes them back: building ORM objects (identity map, instance state, a selectin load of
``topics``) only to copy them into ``SubscriberRow`` cost more than the queries themselves.
Keyword-only arguments, a session first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.records import Topic as TopicRecord
from service.storage._common import chunks, one_of
from service.storage.models import Subscriber, Topic
from service.storage.rows import SubscriberRow

_FIELDS = tuple(f.name for f in dataclasses.fields(SubscriberRow) if f.name != "topics")
COLUMNS = tuple(getattr(Subscriber, name) for name in _FIELDS)


def select_subscribers() -> Any:
    """``SELECT`` of a subscriber's row columns and next due time: add the WHERE, ORDER, LIMIT."""
    return select(*COLUMNS, Subscriber.next_due_at)


def read_subscribers(
    session: Session, query: Any
) -> list[tuple[SubscriberRow, dt.datetime | None]]:
    """Each subscriber of ``query`` (from ``select_subscribers``) as a row with its topics, and
    the next due time it read, in the query's order."""
    rows = session.execute(query).all()
    topics = topics_of(session, ids=[row.id for row in rows])
    width = len(_FIELDS)
    return [
        (
            SubscriberRow(**dict(zip(_FIELDS, row, strict=False)), topics=topics.get(row.id, ())),
            row[width],
        )
        for row in rows
    ]


def topics_of(session: Session, *, ids: Sequence[int]) -> dict[int, tuple[TopicRecord, ...]]:
    """Every topic of these subscribers (all their interests'), in the order they were added."""
    found: dict[int, list[TopicRecord]] = {}
    for chunk in chunks(sorted(set(ids))):
        rows = session.execute(
            select(Topic.subscriber_id, Topic.kind, Topic.text, Topic.weight)
            .where(one_of(session, Topic.subscriber_id, chunk))
            .order_by(Topic.subscriber_id, Topic.id)
        ).all()  # fetched at once: iterating fetches a row at a time
        for subscriber_id, kind, text, weight in rows:
            found.setdefault(subscriber_id, []).append(TopicRecord(kind, text, weight))
    return {sid: tuple(topics) for sid, topics in found.items()}


def subscribers_by_id(session: Session, *, ids: Sequence[int]) -> dict[int, SubscriberRow]:
    """These subscribers with their topics, as rows, in two queries a chunk."""
    found: dict[int, SubscriberRow] = {}
    for chunk in chunks(sorted(set(ids))):
        for row, _due in read_subscribers(
            session, select_subscribers().where(one_of(session, Subscriber.id, chunk))
        ):
            found[row.id] = row
    return found
