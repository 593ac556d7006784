"""Queries of what each subscriber was sent: papers received, the last digest date and send
time (for the cadence), and the archive of sent digests.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.records import Candidate
from service.storage._common import GIVEN, NOT_SENT, chunks
from service.storage.models import OPEN_STATUSES, Delivery, DeliveryItem
from service.storage.papers import papers_by_id
from service.storage.rows import DeliveryItemRow, DeliveryRow


def received_paper_ids(session: Session, *, subscriber_id: int) -> set[int]:
    """Papers this subscriber has been sent or is being sent (never to be sent again)."""
    rows = session.scalars(
        select(DeliveryItem.paper_id)
        .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
        .where(Delivery.subscriber_id == subscriber_id, Delivery.status.not_in(NOT_SENT))
    )
    return set(rows)


def last_sent_at(session: Session, *, subscriber_id: int) -> dt.datetime | None:
    return session.scalar(
        select(func.max(Delivery.sent_at)).where(
            Delivery.subscriber_id == subscriber_id, Delivery.status == "sent"
        )
    )


def last_digest_date(session: Session, *, subscriber_id: int) -> dt.date | None:
    return session.scalar(
        select(func.max(Delivery.digest_date)).where(
            Delivery.subscriber_id == subscriber_id, Delivery.status == "sent"
        )
    )


def planning_history(
    session: Session, *, subscriber_ids: Sequence[int]
) -> dict[int, tuple[dt.date | None, dt.datetime | None, set[int]]]:
    """For a chunk of subscribers at once: (last sent digest date, last sent time, papers sent or
    being sent), so planning does not ask three questions per subscriber."""
    history: dict[int, tuple[dt.date | None, dt.datetime | None, set[int]]] = {
        sid: (None, None, set()) for sid in subscriber_ids
    }
    for chunk in chunks(list(subscriber_ids)):
        for sid, last_date, last_sent in session.execute(
            select(
                Delivery.subscriber_id, func.max(Delivery.digest_date), func.max(Delivery.sent_at)
            )
            .where(Delivery.subscriber_id.in_(chunk), Delivery.status.in_(GIVEN))
            .group_by(Delivery.subscriber_id)
        ):
            history[sid] = (last_date, last_sent, history[sid][2])
        for sid, paper_id in session.execute(
            select(Delivery.subscriber_id, DeliveryItem.paper_id)
            .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
            .where(Delivery.subscriber_id.in_(chunk), Delivery.status.not_in(NOT_SENT))
        ):
            history[sid][2].add(paper_id)
    return history


def sent_digests(
    session: Session, *, subscriber_id: int, limit: int = 60
) -> list[tuple[DeliveryRow, list[tuple[DeliveryItemRow, Candidate]]]]:
    """The subscriber's sent digests, newest first, each with its papers in digest order."""
    deliveries = list(
        session.scalars(
            select(Delivery)
            .where(Delivery.subscriber_id == subscriber_id, Delivery.status == "sent")
            .order_by(Delivery.digest_date.desc())
            .limit(limit)
        )
    )
    if not deliveries:
        return []
    items: dict[int, list[DeliveryItemRow]] = {}
    for chunk in chunks([d.id for d in deliveries]):
        for item in session.scalars(
            select(DeliveryItem)
            .where(DeliveryItem.delivery_id.in_(chunk))
            .order_by(DeliveryItem.position)
        ):
            items.setdefault(item.delivery_id, []).append(DeliveryItemRow.of(item))
    papers = papers_by_id(session, ids=[i.paper_id for group in items.values() for i in group])
    return [
        (
            DeliveryRow.of(d),
            [(i, papers[i.paper_id]) for i in items.get(d.id, []) if i.paper_id in papers],
        )
        for d in deliveries
    ]


def resumable_subscriber_ids(
    session: Session, *, now: dt.datetime, pending_before: dt.datetime | None = None
) -> list[int]:
    """Subscribers with a delivery the planner resumes whatever their next due time: deferred and
    due for a retry, ``sending`` whose lease ran out, or pending (only those untouched since
    ``pending_before`` when given: the rest wait in the delivery queue). The partial index of
    open deliveries: its condition, word for word, is in the query, since SQLite uses a partial
    index only for a query that says so (it does not see that each branch below implies it)."""
    pending = Delivery.status == "pending"
    if pending_before is not None:
        pending = pending & (Delivery.updated_at < pending_before)
    query = select(Delivery.subscriber_id).where(
        text(OPEN_STATUSES),
        ((Delivery.status == "deferred") & (Delivery.next_attempt_at <= now))
        | ((Delivery.status == "sending") & (Delivery.lease_until < now))
        | pending,
    )
    return sorted(set(session.scalars(query)))
