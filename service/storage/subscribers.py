"""Queries of subscribers: adding, finding and listing them, their topics, delivery settings and
ranking preferences, status changes, the double opt-in confirmation, and deleting them.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from service.storage._common import MAILABLE, chunks, dialect_insert, not_suppressed
from service.storage.interests import first_interest, name_from_topics, set_interest_topics
from service.storage.models import (
    DUE_FIELDS,
    DUE_NOW,
    Delivery,
    Feedback,
    Interest,
    Subscriber,
    Topic,
    due_mark,
)
from service.storage.rows import SubscriberRow
from service.storage.subscriber_rows import read_subscribers, select_subscribers
from service.storage.suppression import is_suppressed


def get_subscriber(session: Session, *, email: str) -> Subscriber | None:
    return session.scalar(
        select(Subscriber).where(Subscriber.email == email).options(selectinload(Subscriber.topics))
    )


def get_subscriber_by_id(session: Session, *, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id, options=[selectinload(Subscriber.topics)])


def add_subscriber(
    session: Session,
    *,
    email: str,
    status: str,
    timezone: str,
    delivery_hour: int,
    cadence: str,
    max_papers: int,
    topics: Iterable[tuple[str, str, float]],
    now: dt.datetime,
    skip_empty: bool = False,
    relevance_floor: float | None = None,
    trending_share: float | None = None,
) -> Subscriber:
    """Create a subscriber with topics (kind, text, weight), all in one interest named after
    them (none without topics). Raises IntegrityError if the email exists."""
    subscriber = Subscriber(
        email=email, status=status, timezone=timezone, delivery_hour=delivery_hour, cadence=cadence,
        max_papers=max_papers, skip_empty=skip_empty, created_at=now,
        confirmed_at=now if status == "active" else None,
        relevance_floor=relevance_floor, trending_share=trending_share,
    )  # fmt: skip
    topics = list(topics)
    if topics:
        interest = Interest(name=name_from_topics(topics), position=0, created_at=now)
        subscriber.interests = [interest]
        subscriber.topics = [
            Topic(kind=k, text=t, weight=w, interest=interest) for k, t, w in topics
        ]
    session.add(subscriber)
    with session.begin_nested():
        session.flush()
    return subscriber


def ensure_subscriber(
    session: Session,
    *,
    email: str,
    timezone: str,
    delivery_hour: int,
    cadence: str,
    max_papers: int,
    now: dt.datetime,
) -> Subscriber:
    """The subscriber with this address, created ``pending`` (no topics yet) if there is none.

    The same statements run whether the address is new or known (``INSERT … ON CONFLICT DO
    NOTHING``, then one read), so neither the answer's timing nor a concurrent request for the
    same address (the unique index settles the race without an error) tells them apart.
    """
    values = {
        "email": email, "status": "pending", "timezone": timezone, "delivery_hour": delivery_hour,
        "cadence": cadence, "max_papers": max_papers, "skip_empty": False, "created_at": now, "soft_bounces": 0,
    }  # fmt: skip
    session.execute(
        dialect_insert(session, Subscriber)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["email"])
    )
    subscriber = get_subscriber(session, email=email)
    assert subscriber is not None
    return subscriber


def add_subscribers_bulk(
    session: Session, *, rows: Sequence[dict[str, Any]], now: dt.datetime
) -> list[int]:
    """Insert many subscribers at once (imports, benchmarks); each row may carry ``topics``
    as (kind, text, weight) tuples (one interest named after them). Returns the new ids in the
    order of ``rows``."""
    ids: list[int] = []
    for chunk in chunks(rows, 5000):
        values = [
            {k: v for k, v in row.items() if k != "topics"}
            | {"created_at": now, "confirmed_at": now if row.get("status") == "active" else None}
            | {"next_due_at": due_mark(row.get("status", "pending"))}
            for row in chunk
        ]
        new_ids = list(
            session.scalars(
                insert(Subscriber).returning(Subscriber.id, sort_by_parameter_order=True), values
            )
        )
        with_topics = [
            (sid, list(row["topics"]))
            for sid, row in zip(new_ids, chunk, strict=True)
            if row.get("topics")
        ]
        interest_ids = list(
            session.scalars(
                insert(Interest).returning(Interest.id, sort_by_parameter_order=True),
                [
                    {"subscriber_id": sid, "name": name_from_topics(t), "position": 0,
                     "created_at": now}
                    for sid, t in with_topics
                ],
            )
        ) if with_topics else []  # fmt: skip
        topics = [
            {"subscriber_id": sid, "interest_id": iid, "kind": kind, "text": text, "weight": weight}
            for (sid, row_topics), iid in zip(with_topics, interest_ids, strict=True)
            for kind, text, weight in row_topics
        ]
        if topics:
            session.execute(insert(Topic), topics)
        ids.extend(new_ids)
    return ids


def list_subscribers(session: Session, *, status: str | None = None) -> list[SubscriberRow]:
    query = select(Subscriber).options(selectinload(Subscriber.topics)).order_by(Subscriber.id)
    if status is not None:
        query = query.where(Subscriber.status == status)
    return [SubscriberRow.of(s) for s in session.scalars(query)]


def due_subscribers(
    session: Session,
    *,
    now: dt.datetime,
    after_id: int,
    limit: int,
    ids: Sequence[int] | None = None,
    email: str | None = None,
    everyone: bool = False,
) -> list[tuple[SubscriberRow, dt.datetime | None]]:
    """The next ``limit`` active subscribers after ``after_id`` (keyset, by id) the planner looks
    at, each with the next due time it read: those due (``next_due_at <= now``, the index), or
    of ``ids``, or with this ``email``, or ``everyone`` (``send --date``)."""
    query = select_subscribers().where(Subscriber.status == "active", Subscriber.id > after_id)
    if ids is not None:
        query = query.where(Subscriber.id.in_(ids))
    elif email is not None:
        query = query.where(Subscriber.email == email)
    elif not everyone:
        query = query.where(Subscriber.next_due_at <= now)
    return read_subscribers(session, query.order_by(Subscriber.id).limit(limit))


def set_next_due(
    session: Session, *, changes: Sequence[tuple[int, dt.datetime | None, dt.datetime]]
) -> int:
    """Store each (subscriber id, next due time read, new next due time) in one statement, only
    where the time is still the one read: a settings change meanwhile (DUE_NOW) wins."""
    if not changes:
        return 0
    table = Subscriber.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("sid"), table.c.next_due_at == bindparam("old"))
        .values(next_due_at=bindparam("new"))
    )
    rows = [{"sid": sid, "old": old, "new": new} for sid, old, new in changes if old is not None]
    if not rows:
        return 0
    return session.connection().execute(statement, rows).rowcount or 0


def wake_waiting_subscribers(session: Session, *, now: dt.datetime, within: dt.timedelta) -> int:
    """New papers came: subscribers the planner looks at again within ``within`` (a skip-empty
    or quiet-day digest still open) are looked at by the next tick."""
    result = session.execute(
        update(Subscriber)
        .where(
            Subscriber.status == "active",
            Subscriber.next_due_at > now,
            Subscriber.next_due_at <= now + within,
        )
        .values(next_due_at=now)
    )
    return result.rowcount or 0


def count_subscribers_by_status(session: Session) -> dict[str, int]:
    return dict(
        session.execute(
            select(Subscriber.status, func.count(Subscriber.id)).group_by(Subscriber.status)
        ).all()
    )


def set_subscriber_status(
    session: Session, *, subscriber_id: int, status: str, only_from: Iterable[str] | None = None
) -> bool:
    """Set the status (only from one of ``only_from``, when given); True when it changed."""
    query = update(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.status != status)
    if only_from is not None:
        query = query.where(Subscriber.status.in_(tuple(only_from)))
    if status in MAILABLE:
        # A bounced or complained address is never mailed again: no path makes it mailable
        # (only ``unsuppress_subscriber``, an operator's explicit act, clears it).
        query = query.where(not_suppressed())
    return bool(session.execute(query.values(status=status, next_due_at=due_mark(status))).rowcount)


def update_subscriber(session: Session, *, subscriber_id: int, **values: Any) -> None:
    """Set delivery settings (timezone, delivery_hour, cadence, max_papers, skip_empty, status)."""
    allowed = {"timezone", "delivery_hour", "cadence", "max_papers", "skip_empty", "status"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not a subscriber setting: {sorted(unknown)}")
    if "status" in values:
        values["next_due_at"] = due_mark(values["status"])
    elif any(name in values for name in DUE_FIELDS):
        # The next tick works out the next digest by the new settings (see models.DUE_NOW).
        values["next_due_at"] = case((Subscriber.status == "active", DUE_NOW), else_=None)
    session.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(**values))


def set_ranking_preferences(
    session: Session,
    *,
    subscriber_id: int,
    relevance_floor: float | None,
    trending_share: float | None,
) -> None:
    """Set a subscriber's relevance floor and trending share (None: the service default)."""
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(relevance_floor=relevance_floor, trending_share=trending_share)
    )


def replace_topics(
    session: Session,
    *,
    subscriber: Subscriber,
    topics: Iterable[tuple[Any, ...]],
    now: dt.datetime | None = None,
) -> None:
    """The topics of the subscriber's first interest (made if they have none) become exactly
    these (kind, text, weight); their other interests keep theirs."""
    interest = first_interest(
        session, subscriber=subscriber, now=now or subscriber.confirmed_at or subscriber.created_at
    )
    set_interest_topics(session, subscriber=subscriber, interest=interest, topics=topics)


def request_confirmation(
    session: Session,
    *,
    subscriber_id: int,
    nonce: str,
    requested: dict[str, Any],
    now: dt.datetime,
    interval: dt.timedelta,
) -> bool:
    """Open a confirmation (new single-use nonce, the settings it will apply) unless one was
    mailed to this subscriber within ``interval``; True when the caller may send the mail.

    One conditional UPDATE, so two concurrent requests for the same address send one mail.
    """
    result = session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.confirm_sent_at.is_(None) | (Subscriber.confirm_sent_at <= now - interval),
        )
        .values(confirm_nonce=nonce, confirm_requested=requested, confirm_sent_at=now)
    )
    return result.rowcount == 1


def confirm_subscriber(
    session: Session, *, subscriber_id: int, nonce: str, now: dt.datetime, ip: str | None
) -> Subscriber | None:
    """Apply the open confirmation with this nonce: the requested settings and topics, status
    active, consent time and IP; the nonce is spent. None when the nonce is not the open one."""
    result = session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.confirm_nonce == nonce, not_suppressed())
        .values(
            confirm_nonce=None,
            status="active",
            confirmed_at=now,
            consent_ip=ip,
            soft_bounces=0,
            next_due_at=DUE_NOW,
        )
    )
    if result.rowcount != 1:
        return None
    subscriber = get_subscriber_by_id(session, subscriber_id=subscriber_id)
    assert subscriber is not None
    session.refresh(subscriber)
    requested = subscriber.confirm_requested or {}
    subscriber.confirm_requested = None
    if "topics" in requested:
        replace_topics(
            session, subscriber=subscriber, topics=[tuple(t) for t in requested["topics"]], now=now
        )
    for name in ("timezone", "delivery_hour", "cadence"):
        if name in requested:
            setattr(subscriber, name, requested[name])
    session.flush()
    return subscriber


def delete_subscriber(session: Session, *, subscriber_id: int) -> None:
    session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))


def purge_subscriber(session: Session, *, subscriber_id: int) -> bool:
    """Delete the subscriber and everything about them; True when it was deleted.

    A bounced or complained address is the exception: its history, topics, votes and consent
    record go, but the row stays with its status and reason, as the record that it must never be
    mailed again (deleting it would let the subscribe form mail it). False then.
    """
    subscriber = get_subscriber_by_id(session, subscriber_id=subscriber_id)
    if subscriber is None:
        return False
    if not is_suppressed(subscriber):
        delete_subscriber(session, subscriber_id=subscriber_id)
        return True
    session.execute(delete(Delivery).where(Delivery.subscriber_id == subscriber_id))
    session.execute(delete(Feedback).where(Feedback.subscriber_id == subscriber_id))
    subscriber.topics = []
    subscriber.interests = []
    subscriber.consent_ip = None
    subscriber.confirm_nonce = None
    subscriber.confirm_requested = None
    session.flush()
    return False
