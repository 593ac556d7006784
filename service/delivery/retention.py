"""Delivery retention: the detail of finished digests older than
``PAPERBOY_DELIVERY_RETENTION_DAYS`` is deleted, in batches, so the database stops growing.

Never-twice needs only the papers sent within the candidate window (a paper first seen earlier
is never a candidate again), so the cut-off never comes closer than that window plus two days.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.settings import Settings
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)


def retention_days(settings: Settings) -> int:
    """The retention in force: the setting, never under the widest candidate window + 2 days
    (weekly subscribers look back at least 7 days)."""
    return max(settings.delivery_retention_days, max(settings.candidate_days, 7) + 2)


def prune(factory: sessionmaker[Session], *, settings: Settings, now: dt.datetime) -> int:
    """Delete finished deliveries (and their papers) dated before the retention cut-off, one
    batch per transaction; the number of deliveries deleted."""
    before = now.date() - dt.timedelta(days=retention_days(settings))
    deliveries = items = 0
    while True:
        with session_scope(factory) as session:
            done, done_items = store.prune_deliveries(session, before=before)
        deliveries += done
        items += done_items
        if done == 0:
            break
    log.info("prune", before=before.isoformat(), deliveries=deliveries, items=items)
    return deliveries
