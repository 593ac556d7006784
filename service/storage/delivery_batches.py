"""The outbox a batch at a time: claim many deliveries in one statement, load what their
messages need in a few queries, and record many outcomes in one transaction.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from service.storage._common import OPEN_DELIVERY, chunks, one_of
from service.storage.models import Delivery, DeliveryItem, Subscriber
from service.storage.rows import DeliveryItemRow


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this caller won: its subscriber, digest date and attempts (this one counted)."""

    delivery_id: int
    subscriber_id: int
    digest_date: dt.date
    attempts: int


def claim_deliveries(
    session: Session, *, ids: Sequence[int], now: dt.datetime, lease_until: dt.datetime
) -> list[Claimed]:
    """Move those of these deliveries that are claimable to ``sending`` under a lease, in one
    statement; the ones this caller won.

    Claimable: open (pending, or deferred whose retry time has come) or ``sending`` with its
    lease run out, and its subscriber still active. On PostgreSQL the rows are locked
    ``FOR NO KEY UPDATE SKIP LOCKED``: two workers given the same ids split them without waiting on
    each other; SQLite runs one writer at a time, so its UPDATE is atomic too.

    The rows are found by id alone, in a sub-select that locks them, and only then tested: a
    locking sub-select is planned on its own, so the tests cannot lead the planner to the
    status indexes. It went there when the statistics were older than the day's plan (say the
    last ANALYZE saw no pending delivery, or no subscriber yet): a bitmap scan of every open
    delivery for each active subscriber, 25 ms a claim of 100 among 5,000 deliveries and
    growing with the table, where looking 100 rows up by id takes under 2 ms.
    """
    if not ids:
        return []
    claimed: list[Claimed] = []
    for chunk in chunks(sorted(set(ids))):
        found: Any = (
            select(Delivery.id, Delivery.status, Delivery.next_attempt_at, Delivery.lease_until,
                   Subscriber.status.label("subscriber_status"), Subscriber.suppressed_reason)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(one_of(session, Delivery.id, chunk))
        )  # fmt: skip
        if session.get_bind().dialect.name == "postgresql":
            # NO KEY UPDATE: enough to keep other claims off, and inserts of items that refer to
            # the row need not wait
            found = found.with_for_update(skip_locked=True, of=Delivery, key_share=True)
        # The LIMIT keeps the planner from pushing the tests below into the sub-select.
        got = found.limit(len(chunk)).subquery("found").c
        open_now = got.status.in_(OPEN_DELIVERY) & (
            got.next_attempt_at.is_(None) | (got.next_attempt_at <= now)
        )
        abandoned = (got.status == "sending") & (got.lease_until < now)
        # not_suppressed(): an active subscriber's status is never one of SUPPRESSED
        active = (got.subscriber_status == "active") & got.suppressed_reason.is_(None)
        rows = session.execute(
            update(Delivery)
            .where(Delivery.id == got.id, open_now | abandoned, active)
            .values(
                status="sending",
                attempts=Delivery.attempts + 1,
                updated_at=now,
                lease_until=lease_until,
            )  # fmt: skip
            .returning(Delivery.id, Delivery.subscriber_id, Delivery.digest_date, Delivery.attempts)
            .execution_options(synchronize_session=False)
        )
        claimed += [Claimed(*row) for row in rows]
    return sorted(claimed, key=lambda c: c.delivery_id)


def emails_of_deliveries(session: Session, *, ids: Sequence[int]) -> dict[int, str]:
    """The subscriber's address of each of these deliveries (to name the ones skipped)."""
    found: dict[int, str] = {}
    for chunk in chunks(sorted(set(ids))):
        query = (
            select(Delivery.id, Subscriber.email)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(one_of(session, Delivery.id, chunk))
        )
        found.update({did: email for did, email in session.execute(query)})
    return found


@lru_cache(maxsize=16384)
def _labels(reasons: str | None) -> tuple[str, ...]:
    """A stored reasons list (its JSON text) as a tuple, decoded once per distinct list: a day's
    digests repeat the same few hundred ('matches "diffusion"', 'trending: 42 upvotes')."""
    return tuple(json.loads(reasons)) if reasons else ()


def items_of_deliveries(
    session: Session, *, ids: Sequence[int]
) -> dict[int, list[DeliveryItemRow]]:
    """The items of these deliveries, each list in position order."""
    found: dict[int, list[DeliveryItemRow]] = {did: [] for did in ids}
    table = DeliveryItem.__table__.c  # plain rows, no ORM identity map: a batch reads ~1,000
    for chunk in chunks(sorted(set(ids))):
        query = (
            select(table.id, table.delivery_id, table.paper_id, table.position, table.score,
                   cast(table.reasons, Text), table.interest)
            .where(one_of(session, table.delivery_id, chunk))
            .order_by(table.delivery_id, table.position)
        )  # fmt: skip
        for iid, did, pid, position, score, reasons, interest in session.execute(query).all():
            found[did].append(
                DeliveryItemRow(iid, did, pid, position, score, _labels(reasons), interest)
            )
    return found


def last_digest_dates(
    session: Session, *, subscriber_ids: Sequence[int]
) -> dict[int, dt.date | None]:
    """Each subscriber's latest sent digest date (None: never), one query a chunk."""
    found: dict[int, dt.date | None] = dict.fromkeys(subscriber_ids)
    for chunk in chunks(sorted(set(subscriber_ids))):
        query = (
            select(Delivery.subscriber_id, func.max(Delivery.digest_date))
            .where(one_of(session, Delivery.subscriber_id, chunk), Delivery.status == "sent")
            .group_by(Delivery.subscriber_id)
        )
        found.update({sid: date for sid, date in session.execute(query).all()})
    return found


@dataclass(frozen=True, slots=True)
class Finished:
    """One outcome to write: the new status of a claimed delivery and what goes with it."""

    delivery_id: int
    subscriber_id: int
    status: str  # sent, deferred, failed, in_doubt; or "released" (back to pending, not counted)
    error: str | None = None
    message_id: str | None = None
    next_attempt_at: dt.datetime | None = None


def finish_deliveries(session: Session, *, outcomes: Sequence[Finished], now: dt.datetime) -> None:
    """Write these outcomes: one statement for the finished rows (sent, and the rest), one
    UPDATE for the released ones, one to reset the soft bounces of the subscribers whose
    digest went through."""
    postgres = session.get_bind().dialect.name == "postgresql"
    for sent in (True, False):
        group = [o for o in outcomes if o.status != "released" and (o.status == "sent") == sent]
        if group:
            (_finish_in_arrays if postgres else _finish_each)(session, group, sent, now)
    _finish_rest(session, outcomes, now)


def _finish_each(session: Session, group: Sequence[Finished], sent: bool, now: dt.datetime) -> None:
    """One executemany: an UPDATE by id for each outcome."""
    table = Delivery.__table__
    values: dict[str, Any] = {
        "status": bindparam("b_status"), "updated_at": now, "last_error": bindparam("b_error"),
        "next_attempt_at": bindparam("b_next"), "lease_until": None,
    }  # fmt: skip
    if sent:
        values.update(sent_at=now, message_id=bindparam("b_message_id"))
    statement = update(table).where(table.c.id == bindparam("b_id")).values(**values)  # type: ignore[arg-type]
    session.execute(
        statement,
        [
            {
                "b_id": o.delivery_id,
                "b_status": o.status,
                "b_error": o.error,
                "b_next": o.next_attempt_at,
                "b_message_id": o.message_id,
            }  # fmt: skip
            for o in group
        ],
    )


def _finish_in_arrays(
    session: Session, group: Sequence[Finished], sent: bool, now: dt.datetime
) -> None:
    """PostgreSQL: one UPDATE ... FROM unnest(arrays), each outcome's values an element of a
    column array. An executemany sends a statement a row, which SQLAlchemy and psycopg each
    prepare in Python (~0.1 ms a message of the worker's CPU); this is one statement a batch.
    A delivery given twice keeps its last outcome, as with the executemany's UPDATEs in turn
    (an UPDATE ... FROM with two matching rows would pick one at random)."""
    last = {o.delivery_id: o for o in group}
    columns: dict[str, tuple[list[Any], Any]] = {
        "id": ([o.delivery_id for o in last.values()], Delivery.id.type),
        "status": ([o.status for o in last.values()], Delivery.status.type),
        "error": ([o.error for o in last.values()], Delivery.last_error.type),
        "next": ([o.next_attempt_at for o in last.values()], Delivery.next_attempt_at.type),
    }
    if sent:
        columns["message_id"] = ([o.message_id for o in last.values()], Delivery.message_id.type)
    arrays = [
        bindparam(f"b_{name}", items, type_=postgresql.ARRAY(kind))
        for name, (items, kind) in columns.items()
    ]
    rows = func.unnest(*arrays).table_valued(*columns).render_derived(name="outcome")
    values: dict[str, Any] = {
        "status": rows.c.status, "updated_at": now, "last_error": rows.c.error,
        "next_attempt_at": rows.c.next, "lease_until": None,
    }  # fmt: skip
    if sent:
        values.update(sent_at=now, message_id=rows.c.message_id)
    session.execute(
        update(Delivery)
        .where(Delivery.id == rows.c.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _finish_rest(session: Session, outcomes: Sequence[Finished], now: dt.datetime) -> None:
    """The released rows back to pending, and the soft bounces of those sent reset."""
    released = [o.delivery_id for o in outcomes if o.status == "released"]
    for chunk in chunks(released):
        session.execute(
            update(Delivery)
            .where(one_of(session, Delivery.id, chunk), Delivery.status == "sending")
            .values(
                status="pending", attempts=Delivery.attempts - 1, updated_at=now, lease_until=None
            )
            .execution_options(synchronize_session=False)
        )
    went_through = sorted({o.subscriber_id for o in outcomes if o.status == "sent"})
    for chunk in chunks(went_through):
        session.execute(
            update(Subscriber)
            .where(one_of(session, Subscriber.id, chunk), Subscriber.soft_bounces > 0)
            .values(soft_bounces=0)
            .execution_options(synchronize_session=False)
        )
