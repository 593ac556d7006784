"""Pure: arXiv's announcement calendar, so a day without papers is known to be a quiet day.

arXiv announces new submissions Sunday to Thursday at 20:00 US Eastern time. Each announcement
makes the listing (and the RSS/Atom feed) of the next day, so listing days are Monday to Friday;
there is no announcement on Friday or Saturday evenings, so no Saturday or Sunday listing. arXiv
also skips a few holidays a year; it publishes that schedule
(https://info.arxiv.org/help/availability.html) and the operator copies the listing days it
names into ``PAPERBOY_ARXIV_HOLIDAYS``. Dates here are listing days, as the feeds date them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection

EASTERN = zoneinfo.ZoneInfo("America/New_York")
ANNOUNCE_TIME = dt.time(20, 0)


def quiet_reason(day: dt.date, holidays: Collection[dt.date] = ()) -> str | None:
    """Why arXiv has no listing on ``day`` (a listing day), or None if it has one."""
    if day.weekday() == 5:
        return "arXiv makes no announcement on Friday evenings, so there is no Saturday listing"
    if day.weekday() == 6:
        return "arXiv makes no announcement on Saturday evenings, so there is no Sunday listing"
    if day in holidays:
        return "arXiv makes no announcement for this day (holiday schedule)"
    return None


def is_listing_day(day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    """True when arXiv publishes a listing dated ``day``."""
    return quiet_reason(day, holidays) is None


def listing_day_at(now: dt.datetime) -> dt.date:
    """The listing day whose announcement time (20:00 ET the evening before) is the latest ≤ now.

    At 21:00 ET on a Tuesday that is Wednesday's listing; at 10:00 ET on Wednesday, still
    Wednesday's. Whether that day has a listing at all is ``is_listing_day``'s question.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime: give listing_day_at an aware time")
    local = now.astimezone(EASTERN)
    return local.date() + dt.timedelta(days=1) if local.time() >= ANNOUNCE_TIME else local.date()


def announcement_time(day: dt.date) -> dt.datetime:
    """When the listing of ``day`` is announced: 20:00 ET the day before, as an aware UTC time."""
    evening = dt.datetime.combine(day - dt.timedelta(days=1), ANNOUNCE_TIME, tzinfo=EASTERN)
    return evening.astimezone(dt.UTC)


def next_announcement(now: dt.datetime, holidays: Collection[dt.date] = ()) -> dt.datetime:
    """The first announcement strictly after ``now`` (UTC)."""
    day = listing_day_at(now) + dt.timedelta(days=1)
    while not is_listing_day(day, holidays):
        day += dt.timedelta(days=1)
    return announcement_time(day)


def latest_announcement(now: dt.datetime, holidays: Collection[dt.date] = ()) -> dt.datetime:
    """The last announcement at or before ``now`` (UTC)."""
    day = listing_day_at(now)
    while not is_listing_day(day, holidays):
        day -= dt.timedelta(days=1)
    return announcement_time(day)
