"""arXiv's announcement calendar: Sunday–Thursday 20:00 US Eastern, listings dated Monday–Friday."""

from __future__ import annotations

import datetime as dt

from service.sources.arxiv_calendar import (
    announcement_time,
    is_listing_day,
    latest_announcement,
    listing_day_at,
    next_announcement,
    quiet_reason,
)

UTC = dt.UTC
THANKSGIVING_2024 = dt.date(2024, 11, 28)


def test_listing_days_are_monday_to_friday_minus_holidays() -> None:
    week = [
        dt.date(2025, 8, 18) + dt.timedelta(days=i) for i in range(7)
    ]  # Mon 18 .. Sun 24 Aug 2025
    assert [is_listing_day(d) for d in week] == [True] * 5 + [False, False]
    assert "Friday evenings" in (quiet_reason(dt.date(2025, 8, 23)) or "")
    assert not is_listing_day(THANKSGIVING_2024, {THANKSGIVING_2024})
    assert "holiday" in (quiet_reason(THANKSGIVING_2024, {THANKSGIVING_2024}) or "")


def test_announcement_is_20_eastern_the_evening_before_across_dst() -> None:
    # Summer (EDT, UTC-4) and winter (EST, UTC-5).
    assert announcement_time(dt.date(2025, 8, 20)) == dt.datetime(2025, 8, 20, 0, 0, tzinfo=UTC)
    assert announcement_time(dt.date(2025, 12, 3)) == dt.datetime(2025, 12, 3, 1, 0, tzinfo=UTC)


def test_listing_day_at_switches_at_20_eastern() -> None:
    before = dt.datetime(2025, 8, 19, 23, 59, tzinfo=UTC)  # Tue 19:59 EDT
    after = dt.datetime(2025, 8, 20, 0, 0, tzinfo=UTC)  # Tue 20:00 EDT
    assert listing_day_at(before) == dt.date(2025, 8, 19)
    assert listing_day_at(after) == dt.date(2025, 8, 20)


def test_next_and_latest_skip_the_weekend_and_holidays() -> None:
    friday_night = dt.datetime(2025, 8, 22, 23, 0, tzinfo=UTC)  # Fri 19:00 EDT
    assert next_announcement(friday_night) == dt.datetime(
        2025, 8, 25, 0, 0, tzinfo=UTC
    )  # Sun 20:00 EDT
    saturday = dt.datetime(2025, 8, 23, 12, 0, tzinfo=UTC)
    assert latest_announcement(saturday) == dt.datetime(
        2025, 8, 22, 0, 0, tzinfo=UTC
    )  # Thu 20:00 EDT
    wednesday_night = dt.datetime(2024, 11, 28, 2, 0, tzinfo=UTC)  # Wed 27 Nov 21:00 EST
    assert next_announcement(wednesday_night, {THANKSGIVING_2024}) == dt.datetime(
        2024, 11, 29, 1, 0, tzinfo=UTC
    )
    assert latest_announcement(wednesday_night, {THANKSGIVING_2024}) == dt.datetime(
        2024, 11, 27, 1, 0, tzinfo=UTC
    )


def test_digest_windows_are_quiet_when_no_calendared_source_announces() -> None:
    from service.delivery.due import due_at
    from service.sources.source_calendar import day_names, expected_sources, is_quiet

    def quiet(sources: list[str], day: dt.date, tz: str, hours: int = 24) -> bool:
        until = due_at(digest_date=day, timezone=tz, hour=7)
        return is_quiet(sources, since=until - dt.timedelta(hours=hours), until=until)

    saturday, sunday, monday = dt.date(2025, 8, 23), dt.date(2025, 8, 24), dt.date(2025, 8, 25)
    both = ["files", "hf_daily", "arxiv"]
    # London: Saturday and Sunday are quiet; Monday has arXiv's Monday listing and Daily Papers.
    assert [quiet(both, d, "Europe/London") for d in (saturday, sunday, monday)] == [
        True,
        True,
        False,
    ]
    # Tokyo at 07:00: Monday's listing is announced at 09:00 there, so Sunday and Monday are quiet
    # and Saturday (Friday's listing, announced Friday 09:00 JST) is not.
    assert [quiet(["arxiv"], d, "Asia/Tokyo") for d in (saturday, sunday, monday)] == [
        False,
        True,
        True,
    ]
    # Only sources with a calendar count, and without any there are no quiet days.
    assert not quiet(["files"], saturday, "UTC")
    # A holiday quiets arXiv only; Daily Papers still expected.
    thursday = dt.datetime(2025, 12, 25, 7, tzinfo=UTC)
    assert expected_sources(
        both, since=thursday - dt.timedelta(days=1), until=thursday, holidays={thursday.date()}
    ) == ("hf_daily",)
    assert day_names([saturday, sunday]) == "Saturday and Sunday"
    assert day_names([dt.date(2025, 8, 22), saturday, sunday]) == "Friday, Saturday and Sunday"
