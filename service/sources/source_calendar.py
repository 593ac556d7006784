"""Pure: which enabled sources are expected to have new papers for a digest, by their calendars.

Two sources have a calendar. arXiv lists Monday to Friday, each listing announced at 20:00 US
Eastern the evening before, minus the holidays the operator names (``arxiv_calendar``). Hugging
Face Daily Papers has a page per UTC date and no papers on Saturdays and Sundays; the ingest
fetches the page of the current UTC date. The ``files`` source has no calendar.

A digest covers the time since the previous one was due: a daily subscriber's the 24 hours
before their delivery hour, a weekly one's the week. A source is expected when one of its listing
days began in that window: the listing day current at the previous due moment is already in the
previous digest, so the listing days after it, up to the one current at this due moment, are new.
That holds in every time zone: a Tokyo reader's Monday 07:00 comes before arXiv announces
Monday's listing (Monday 09:00 there), so their Monday digest, not their Saturday one, is quiet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from service.sources.arxiv_calendar import is_listing_day, listing_day_at

NAMES = {"arxiv": "arXiv", "hf_daily": "Hugging Face Daily Papers"}  # the sources with a calendar
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def with_calendar(sources: Sequence[str]) -> tuple[str, ...]:
    """The enabled sources whose announcement calendar is known."""
    return tuple(s for s in sources if s in NAMES)


def listing_day(source: str, moment: dt.datetime) -> dt.date:
    """The listing day of ``source`` current at ``moment`` (an aware time)."""
    if source == "arxiv":
        return listing_day_at(moment)
    return moment.astimezone(dt.UTC).date()


def has_listing(source: str, day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    """Whether ``source`` publishes a listing dated ``day``."""
    if source == "arxiv":
        return is_listing_day(day, holidays)
    return day.weekday() < 5


def expected_sources(
    sources: Sequence[str], *, since: dt.datetime, until: dt.datetime,
    holidays: Collection[dt.date] = (),
) -> tuple[str, ...]:  # fmt: skip
    """The sources (of those with a calendar) with a listing day beginning in (since, until]."""
    expected = []
    for source in with_calendar(sources):
        day, last = listing_day(source, since), listing_day(source, until)
        while day < last:
            day += dt.timedelta(days=1)
            if has_listing(source, day, holidays):
                expected.append(source)
                break
    return tuple(expected)


def is_quiet(
    sources: Sequence[str], *, since: dt.datetime, until: dt.datetime,
    holidays: Collection[dt.date] = (),
) -> bool:  # fmt: skip
    """True when at least one source has a calendar and none of them announces in the window."""
    return bool(with_calendar(sources)) and not expected_sources(
        sources, since=since, until=until, holidays=holidays
    )


def day_names(days: Sequence[dt.date]) -> str:
    """'Saturday and Sunday', 'Thursday, Friday and Saturday'."""
    names = [_DAYS[d.weekday()] for d in days]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
