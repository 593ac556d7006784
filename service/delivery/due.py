"""When a subscriber's digest is due: the pure rules the planner sends by (the delivery hour in
their time zone, the weekly cadence, the UTC moment a date's delivery begins) and the next digest
they will get, for the web pages that promise it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection

from sqlalchemy.orm import Session

from service.settings import Settings
from service.storage import store
from service.storage.rows import ReadSubscriber


def digest_date_due(
    *, now: dt.datetime, timezone: str, hour: int, cadence: str, last_digest: dt.date | None
) -> dt.date | None:
    """Pure: the digest date a subscriber is due for at ``now``, or None if not due yet.

    Due once the subscriber's local clock has passed their delivery hour; weekly subscribers are
    due again seven local days after their previous digest.
    """
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    if local.hour < hour:
        return None
    today = local.date()
    return today if cadence_allows(day=today, cadence=cadence, last_digest=last_digest) else None


def cadence_allows(*, day: dt.date, cadence: str, last_digest: dt.date | None) -> bool:
    """Pure: whether a digest dated ``day`` keeps the cadence: a weekly subscriber gets no digest
    within seven days of their previous one (either side: a forced earlier date counts too)."""
    return cadence != "weekly" or last_digest is None or abs((day - last_digest).days) >= 7


def due_at(*, digest_date: dt.date, timezone: str, hour: int) -> dt.datetime:
    """Pure: the UTC moment a digest date's delivery hour begins in the subscriber's time zone.

    A wall-clock hour that a DST change skips resolves forward (zoneinfo's fold=0 rule).
    """
    local = dt.datetime.combine(digest_date, dt.time(hour), tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def next_look_at(
    *, now: dt.datetime, timezone: str, hour: int, cadence: str, last_digest: dt.date | None,
    settled: dt.date | None,
) -> dt.datetime:  # fmt: skip
    """Pure: when the planner next looks at a subscriber (their stored ``next_due_at``).

    ``settled``: the digest date just dealt with (a delivery row made or found, or given up):
    the delivery moment of the day after it; the planner then decides by the cadence. None
    (nothing due yet): the first date from today whose delivery moment is still ahead and that
    the cadence allows. Never later than ``digest_date_due`` would first say yes, DST included
    (``due_at`` is the first local moment at or past the hour).
    """
    if settled is not None:
        return due_at(digest_date=settled + dt.timedelta(days=1), timezone=timezone, hour=hour)
    today = now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    for days in range(9):
        date = today + dt.timedelta(days=days)
        moment = due_at(digest_date=date, timezone=timezone, hour=hour)
        if moment > now and cadence_allows(day=date, cadence=cadence, last_digest=last_digest):
            return moment
    raise AssertionError("a digest is due within 9 days")  # pragma: no cover


def next_digest_at(
    *, now: dt.datetime, timezone: str, hour: int, cadence: str, last_digest: dt.date | None,
    deadline_hours: int, taken: Collection[dt.date] = (),
) -> tuple[dt.date, dt.datetime]:  # fmt: skip
    """Pure: (digest date, UTC moment) the planner first sends a subscriber's next digest, by the
    rules ``send_due`` plans with: ``digest_date_due``, and a date is given up ``deadline_hours``
    after ``due_at``. ``now`` itself when a digest is due already (the next delivery tick sends
    it). ``taken``: dates that already have a finished delivery row."""
    today = now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    for days in range(9):  # a weekly subscriber is due again within 7 days
        date = today + dt.timedelta(days=days)
        start = due_at(digest_date=date, timezone=timezone, hour=hour)
        moment = max(now, start)
        if date in taken or moment > start + dt.timedelta(hours=deadline_hours):
            continue
        due = digest_date_due(
            now=moment, timezone=timezone, hour=hour, cadence=cadence, last_digest=last_digest
        )
        if due == date:
            return date, moment
    raise AssertionError("a digest is due within 9 days")  # pragma: no cover


def next_digest_for(
    session: Session, *, settings: Settings, subscriber: ReadSubscriber, now: dt.datetime
) -> tuple[dt.date, dt.datetime]:
    """``next_digest_at`` for a stored subscriber: their last sent digest and the dates whose
    delivery is already finished (the planner skips those) come from the database."""
    last_digest = store.planning_history(session, subscriber_ids=[subscriber.id])[subscriber.id][0]
    today = now.astimezone(zoneinfo.ZoneInfo(subscriber.timezone)).date()
    keys = [(subscriber.id, today + dt.timedelta(days=d)) for d in range(9)]
    rows = store.deliveries_for(session, keys=keys)
    taken = {date for (_sid, date), row in rows.items() if row.status not in store.OPEN_DELIVERY}
    return next_digest_at(
        now=now,
        timezone=subscriber.timezone,
        hour=subscriber.delivery_hour,
        cadence=subscriber.cadence,
        last_digest=last_digest,
        deadline_hours=settings.delivery_deadline_hours,
        taken=taken,
    )
