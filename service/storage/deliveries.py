"""Queries of the delivery outbox: deliveries and their items (the papers of each digest),
claiming under a lease, finishing, releasing, what a scheduler tick queues, and counts and errors.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.storage._common import chunks
from service.storage.models import Delivery, DeliveryItem, Subscriber
from service.storage.rows import DeliveryItemRow, DeliveryRow


def get_delivery(
    session: Session, *, subscriber_id: int, digest_date: dt.date
) -> DeliveryRow | None:
    delivery = session.scalar(
        select(Delivery).where(
            Delivery.subscriber_id == subscriber_id, Delivery.digest_date == digest_date
        )
    )
    return DeliveryRow.of(delivery) if delivery is not None else None


def deliveries_for(
    session: Session, *, keys: Iterable[tuple[int, dt.date]]
) -> dict[tuple[int, dt.date], DeliveryRow]:
    """The deliveries of these (subscriber, digest date) pairs that exist."""
    wanted = set(keys)
    found: dict[tuple[int, dt.date], DeliveryRow] = {}
    for chunk in chunks(sorted({sid for sid, _ in wanted})):
        dates = {d for sid, d in wanted}
        for delivery in session.scalars(
            select(Delivery).where(
                Delivery.subscriber_id.in_(chunk), Delivery.digest_date.in_(dates)
            )
        ):
            key = (delivery.subscriber_id, delivery.digest_date)
            if key in wanted:
                found[key] = DeliveryRow.of(delivery)
    return found


# A delivery item as planning hands it over: (paper id, score, reason labels[, interest name]).
Item = tuple[int, float, list[str]] | tuple[int, float, list[str], str | None]


_ITEM_COLUMNS = ("paper_id", "score", "reasons", "interest")


def _item_values(item: Item) -> tuple[Any, ...]:
    pid, score, reasons, *rest = item
    return pid, score, reasons, rest[0] if rest else None


def _item(item: Item) -> dict[str, Any]:
    return dict(zip(_ITEM_COLUMNS, _item_values(item), strict=True))


def create_delivery(
    session: Session,
    *,
    subscriber_id: int,
    digest_date: dt.date,
    items: Sequence[Item],
    now: dt.datetime,
) -> Delivery | None:
    """Insert a pending delivery with its items (paper id, score, reasons[, interest name]), or
    None if one exists.

    The unique (subscriber, digest date) constraint is the guard: two runs racing for the same
    digest create one row between them.
    """
    delivery = Delivery(
        subscriber_id=subscriber_id, digest_date=digest_date, status="pending", attempts=0,
        created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
            session.add_all(
                DeliveryItem(delivery_id=delivery.id, position=pos, **_item(item))
                for pos, item in enumerate(items, start=1)
            )
            session.flush()
    except IntegrityError:
        return None
    return delivery


def create_deliveries(
    session: Session,
    *,
    rows: Sequence[tuple[int, dt.date, Sequence[Item]]],
    now: dt.datetime,
) -> list[int]:
    """Insert many pending deliveries (subscriber, digest date, items) in two statements; their
    ids in order. Raises IntegrityError if any exists already (the caller falls back to
    ``create_delivery`` one at a time)."""
    if not rows:
        return []
    # Core inserts on the tables: the ORM's bulk path costs more per row than the rows do.
    deliveries, items_table = Delivery.__table__, DeliveryItem.__table__
    ids = list(
        session.scalars(
            insert(deliveries).returning(deliveries.c.id, sort_by_parameter_order=True),
            [
                {
                    "subscriber_id": sid,
                    "digest_date": date,
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for sid, date, _ in rows
            ],
        )
    )
    items = [
        (did, pos, *_item_values(item))
        for did, (_, _, chosen) in zip(ids, rows, strict=True)
        for pos, item in enumerate(chosen, start=1)
    ]
    if not items:
        return ids
    if session.get_bind().dialect.name == "postgresql":
        _copy_items(session, items)
    else:
        names = ("delivery_id", "position", *_ITEM_COLUMNS)
        session.execute(insert(items_table), [dict(zip(names, row, strict=True)) for row in items])
    return ids


def _copy_items(session: Session, items: list[tuple[Any, ...]]) -> None:
    """delivery_items rows by COPY, in the session's transaction: a day's plan writes about
    ten a digest, and COPY takes them for a fraction of an executemany's CPU on both sides.
    ``reasons`` goes in as the JSON text the JSON column's own binding writes."""
    import psycopg  # PostgreSQL only: its driver

    statement = (
        f"COPY delivery_items ({', '.join(('delivery_id', 'position', *_ITEM_COLUMNS))}) FROM STDIN"
    )
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for did, pos, pid, score, reasons, interest in items:
                copy.write_row((did, pos, pid, score, json.dumps(reasons), interest))
    except psycopg.errors.IntegrityError as exc:  # as the executemany would raise it
        raise IntegrityError(statement, None, exc) from exc


def refresh_delivery_statistics(session: Session) -> bool:
    """ANALYZE the outbox's tables on PostgreSQL, after a plan wrote many rows: the workers'
    queries are then planned on the day's numbers instead of the last autovacuum's (a delivery
    table PostgreSQL never analyzed yet is taken for one whose lookups by delivery read half of
    it). ANALYZE reads a sample of each table, not all of it. False on SQLite, whose
    planner does not depend on statistics for these lookups."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.execute(text("ANALYZE deliveries, delivery_items"))
    return True


def finish_delivery(
    session: Session,
    *,
    delivery_id: int,
    status: str,
    now: dt.datetime,
    message_id: str | None = None,
    error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status, "updated_at": now, "last_error": error, "next_attempt_at": next_attempt_at, "lease_until": None,
    }  # fmt: skip
    if status == "sent":
        values.update(sent_at=now, message_id=message_id)
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def delivery_items(session: Session, *, delivery_id: int) -> list[DeliveryItemRow]:
    return [
        DeliveryItemRow.of(item)
        for item in session.scalars(
            select(DeliveryItem)
            .where(DeliveryItem.delivery_id == delivery_id)
            .order_by(DeliveryItem.position)
        )
    ]


def deliveries_to_queue(
    session: Session, *, ids: Sequence[int], now: dt.datetime, stale_before: dt.datetime
) -> list[int]:
    """Of these open deliveries, those a scheduler tick should hand to workers: created by this
    tick (``created_at >= now``), deferred and due for their retry, or untouched since
    ``stale_before`` (their job was lost or their worker died). A pending row still waiting in
    the queue from an earlier tick is not queued again."""
    found: list[int] = []
    for chunk in chunks(list(ids)):
        found += session.scalars(
            select(Delivery.id).where(
                Delivery.id.in_(chunk),
                (Delivery.created_at >= now)
                | ((Delivery.status == "deferred") & (Delivery.next_attempt_at <= now))
                | (
                    Delivery.status.in_(("pending", "sending"))
                    & (Delivery.updated_at < stale_before)
                ),
            )
        ).all()
    return sorted(found)


def count_deliveries_by_status(
    session: Session, *, digest_date: dt.date | None = None
) -> dict[str, int]:
    query = select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
    if digest_date is not None:
        query = query.where(Delivery.digest_date == digest_date)
    return dict(session.execute(query).all())


def count_delivery_items(session: Session, *, digest_date: dt.date) -> int:
    """Papers recorded in the digests of ``digest_date`` (delivery_items rows; benchmarks)."""
    query = select(func.count(DeliveryItem.id)).join(
        Delivery, Delivery.id == DeliveryItem.delivery_id
    )
    return int(session.execute(query.where(Delivery.digest_date == digest_date)).scalar_one())


def recent_delivery_errors(
    session: Session, *, digest_date: dt.date | None = None, limit: int = 10
) -> list[tuple[Any, ...]]:
    """(email, digest date, status, attempts, last error) of the latest deliveries that have an error."""
    query = (
        select(
            Subscriber.email,
            Delivery.digest_date,
            Delivery.status,
            Delivery.attempts,
            Delivery.last_error,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.last_error.is_not(None))
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    if digest_date is not None:
        query = query.where(Delivery.digest_date == digest_date)
    return [tuple(row) for row in session.execute(query)]
