"""Queries of delivery retention: deleting the detail of old, finished digests so the database
stops growing (never-twice only needs what was sent within the candidate window).

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.storage._common import OPEN_DELIVERY
from service.storage.models import Delivery, DeliveryItem


def prune_deliveries(session: Session, *, before: dt.date, limit: int = 5000) -> tuple[int, int]:
    """Delete up to ``limit`` finished deliveries dated before ``before``, with their items;
    (deliveries, items) deleted. Open or in-flight ones stay whatever their age."""
    ids = list(
        session.scalars(
            select(Delivery.id)
            .where(
                Delivery.digest_date < before,
                Delivery.status.not_in((*OPEN_DELIVERY, "sending")),
            )
            .order_by(Delivery.id)
            .limit(limit)
        )
    )
    if not ids:
        return 0, 0
    items = session.execute(delete(DeliveryItem).where(DeliveryItem.delivery_id.in_(ids)))
    session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
    return len(ids), items.rowcount or 0
