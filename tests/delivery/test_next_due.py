"""The scheduler reads only who is due (subscribers.next_due_at): DST, settings changes, pause,
catch-up after downtime, a tick with nothing due, and pruning that keeps never-twice."""

from __future__ import annotations

import datetime as dt

from service.delivery.due import next_look_at
from service.delivery.due_scan import due_chunks
from service.delivery.planning import send_due
from service.delivery.retention import prune
from service.delivery.runtime import Runtime
from service.delivery.smtp_mailer import SmtpMailer
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope
from service.storage.models import DUE_NOW
from tests.support.smtp_sink import SmtpSink

UTC = dt.UTC


def subscribe(runtime: Runtime, email: str, *, tz: str, hour: int = 8, at: dt.datetime) -> int:
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=at)
    with session_scope(runtime.factory) as session:
        return store.add_subscriber(
            session, email=email, status="active", timezone=tz, delivery_hour=hour,
            cadence="daily", max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=at,
        ).id  # fmt: skip


def tick(runtime: Runtime, sink: SmtpSink, now: dt.datetime) -> list[tuple[str, str]]:
    """One scheduler tick at ``now``: (email, status) of every subscriber it planned."""
    with SmtpMailer(sink.url) as mailer:
        report = send_due(runtime.pipeline, mailer=mailer, now=now)
    return [(o.email, o.status) for o in report.outcomes]


def next_due(runtime: Runtime, subscriber_id: int) -> dt.datetime | None:
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
        assert subscriber is not None
        return subscriber.next_due_at


def hourly(start: dt.datetime, hours: int) -> list[dt.datetime]:
    return [start + dt.timedelta(hours=h) for h in range(hours)]


def test_next_look_is_never_after_the_first_due_moment_across_dst() -> None:
    # Berlin springs forward on 2025-03-30 (02:00 does not exist): hour 2 is due at 03:00 CEST.
    assert next_look_at(
        now=dt.datetime(2025, 3, 29, 23, tzinfo=UTC), timezone="Europe/Berlin", hour=2,
        cadence="daily", last_digest=None, settled=None,
    ) == dt.datetime(2025, 3, 30, 1, tzinfo=UTC)  # fmt: skip
    # New York falls back on 2025-11-02 (01:00 happens twice): the first 01:00 (EDT).
    assert next_look_at(
        now=dt.datetime(2025, 11, 2, 0, tzinfo=UTC), timezone="America/New_York", hour=1,
        cadence="daily", last_digest=dt.date(2025, 11, 1), settled=None,
    ) == dt.datetime(2025, 11, 2, 5, tzinfo=UTC)  # fmt: skip
    # After the digest of 2025-11-01 (EDT) the next look is 8:00 EST on 11-02: 13:00 UTC.
    assert next_look_at(
        now=dt.datetime(2025, 11, 1, 12, tzinfo=UTC), timezone="America/New_York", hour=8,
        cadence="daily", last_digest=None, settled=dt.date(2025, 11, 1),
    ) == dt.datetime(2025, 11, 2, 13, tzinfo=UTC)  # fmt: skip
    # Weekly: not before seven days after the last digest.
    assert next_look_at(
        now=dt.datetime(2025, 8, 20, 9, tzinfo=UTC), timezone="UTC", hour=8,
        cadence="weekly", last_digest=dt.date(2025, 8, 18), settled=None,
    ) == dt.datetime(2025, 8, 25, 8, tzinfo=UTC)  # fmt: skip


def test_hourly_ticks_across_dst_send_each_local_day_once_at_its_hour(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    for tz, start in (
        ("Europe/Berlin", dt.datetime(2025, 3, 29, 0, tzinfo=UTC)),
        ("America/New_York", dt.datetime(2025, 11, 1, 4, tzinfo=UTC)),
    ):
        email = f"{tz.split('/')[1].lower()}@example.org"
        subscribe(runtime, email, tz=tz, at=start - dt.timedelta(hours=2))
        sent_at = []
        for now in hourly(start, 72):
            if (email, "sent") in tick(runtime, smtp_sink, now):
                sent_at.append(now)
        # 08:00 local each day, whatever the offset that day; never twice, never a day skipped.
        if tz == "Europe/Berlin":  # CET (+1) on the 29th, CEST (+2) from the 30th
            assert [t.hour for t in sent_at] == [7, 6, 6]
        else:  # EDT (-4) on 11-01, EST (-5) from 11-02
            assert [t.hour for t in sent_at] == [12, 13, 13]
        assert len({t.date() for t in sent_at}) == 3


def test_a_tick_with_nothing_due_selects_nobody(runtime: Runtime, smtp_sink: SmtpSink) -> None:
    now = dt.datetime(2025, 8, 20, 9, tzinfo=UTC)
    for n in range(5):
        subscribe(runtime, f"s{n}@example.org", tz="UTC", at=now - dt.timedelta(hours=4))
    assert sorted(status for _, status in tick(runtime, smtp_sink, now)) == ["sent"] * 5
    later = now + dt.timedelta(minutes=5)
    assert list(due_chunks(runtime.factory, now=later, size=500)) == []
    assert tick(runtime, smtp_sink, later) == []
    # Until tomorrow's hour: the first tick past it selects all five again.
    tomorrow = dt.datetime(2025, 8, 21, 8, tzinfo=UTC)
    assert list(due_chunks(runtime.factory, now=tomorrow - dt.timedelta(seconds=1), size=500)) == []
    assert [len(c) for c in due_chunks(runtime.factory, now=tomorrow, size=2)] == [2, 2, 1]


def test_an_hour_change_after_todays_digest_moves_the_next_one(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    now = dt.datetime(2025, 8, 20, 8, 5, tzinfo=UTC)
    ada = subscribe(runtime, "ada@example.org", tz="UTC", at=now - dt.timedelta(hours=3))
    assert tick(runtime, smtp_sink, now) == [("ada@example.org", "sent")]
    with session_scope(runtime.factory) as session:
        store.update_subscriber(session, subscriber_id=ada, delivery_hour=18)
    assert next_due(runtime, ada) == DUE_NOW  # the next tick works it out
    assert tick(runtime, smtp_sink, now + dt.timedelta(minutes=5)) == [
        ("ada@example.org", "skipped")  # not due yet by the new hour
    ]
    assert next_due(runtime, ada) == dt.datetime(2025, 8, 20, 18, tzinfo=UTC)
    # At 18:00 today's digest is found sent already: nothing goes, the next is tomorrow's.
    evening = tick(runtime, smtp_sink, dt.datetime(2025, 8, 20, 18, 30, tzinfo=UTC))
    assert evening == [("ada@example.org", "skipped")] and len(smtp_sink.deliveries) == 1
    assert next_due(runtime, ada) == dt.datetime(2025, 8, 21, 18, tzinfo=UTC)
    assert tick(runtime, smtp_sink, dt.datetime(2025, 8, 21, 8, 30, tzinfo=UTC)) == []
    sent = tick(runtime, smtp_sink, dt.datetime(2025, 8, 21, 18, 1, tzinfo=UTC))
    assert sent == [("ada@example.org", "sent")] and len(smtp_sink.deliveries) == 2


def test_paused_subscribers_are_never_due_and_resume_where_they_left(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    now = dt.datetime(2025, 8, 20, 7, tzinfo=UTC)
    ada = subscribe(runtime, "ada@example.org", tz="UTC", at=now - dt.timedelta(hours=2))
    assert [s for _, s in tick(runtime, smtp_sink, now)] == ["skipped"]  # not due yet
    with session_scope(runtime.factory) as session:
        assert store.set_subscriber_status(session, subscriber_id=ada, status="paused")
    assert next_due(runtime, ada) is None
    for later in hourly(now, 30):
        assert tick(runtime, smtp_sink, later) == []
    resume = dt.datetime(2025, 8, 21, 9, tzinfo=UTC)
    with session_scope(runtime.factory) as session:
        assert store.set_subscriber_status(session, subscriber_id=ada, status="active")
    assert tick(runtime, smtp_sink, resume) == [("ada@example.org", "sent")]


def test_a_subscriber_due_while_the_process_was_down_is_caught_up(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    now = dt.datetime(2025, 8, 20, 7, 55, tzinfo=UTC)
    ada = subscribe(runtime, "ada@example.org", tz="UTC", at=now - dt.timedelta(hours=2))
    tick(runtime, smtp_sink, now)
    assert next_due(runtime, ada) == dt.datetime(2025, 8, 20, 8, tzinfo=UTC)
    # Down from 07:55 to 11:00: the first tick back sends today's digest (within its deadline).
    assert tick(runtime, smtp_sink, dt.datetime(2025, 8, 20, 11, tzinfo=UTC)) == [
        ("ada@example.org", "sent")
    ]


def test_pruning_keeps_never_twice(runtime: Runtime, smtp_sink: SmtpSink) -> None:
    runtime.pipeline.settings = runtime.settings = runtime.settings.model_copy(
        update={"delivery_retention_days": 1}  # under the candidate window: the floor applies
    )
    day0 = dt.datetime(2025, 8, 20, 9, tzinfo=UTC)
    ada = subscribe(runtime, "ada@example.org", tz="UTC", at=day0 - dt.timedelta(hours=4))

    def sent_papers() -> list[int]:
        with session_scope(runtime.factory) as session:
            return sorted(store.received_paper_ids(session, subscriber_id=ada))

    def digest_titles() -> set[str]:
        return {m["Subject"] for m in smtp_sink.messages}

    assert tick(runtime, smtp_sink, day0) == [("ada@example.org", "sent")]
    first = sent_papers()
    assert first
    # The next days: pruning with a 1-day setting keeps the window (9 days): nothing resent.
    for days in range(1, 4):
        now = day0 + dt.timedelta(days=days)
        assert prune(runtime.factory, settings=runtime.settings, now=now) == 0
        smtp_sink.clear()
        assert tick(runtime, smtp_sink, now) == [("ada@example.org", "sent")]
        with session_scope(runtime.factory) as session:
            rows = store.sent_digests(session, subscriber_id=ada, limit=1)
        assert not {item.paper_id for item, _ in rows[0][1]} & set(first)
    # Ten days on the first digest is pruned; its papers are out of the candidate window.
    later = day0 + dt.timedelta(days=10)
    assert prune(runtime.factory, settings=runtime.settings, now=later) == 1
    assert not set(first) <= set(sent_papers())
    smtp_sink.clear()
    assert tick(runtime, smtp_sink, later) == [("ada@example.org", "sent")]
    with session_scope(runtime.factory) as session:
        rows = store.sent_digests(session, subscriber_id=ada, limit=1)
    assert not {item.paper_id for item, _ in rows[0][1]} & set(first)
    assert digest_titles()


def test_a_skip_empty_day_stays_open_and_an_ingest_wakes_it(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    now = dt.datetime(2025, 8, 20, 9, tzinfo=UTC)
    bob = subscribe(runtime, "bob@example.org", tz="UTC", at=now - dt.timedelta(hours=4))
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber_by_id(session, subscriber_id=bob)
        assert subscriber is not None
        subscriber.skip_empty = True
        subscriber.topics[0].text = "xyzzy"
    assert tick(runtime, smtp_sink, now) == [("bob@example.org", "skipped")]
    # The day is still open (no row): looked at again within the hour, not tomorrow.
    assert next_due(runtime, bob) == now + dt.timedelta(hours=1)
    assert tick(runtime, smtp_sink, now + dt.timedelta(minutes=5)) == []
    with session_scope(runtime.factory) as session:  # the ingest tick, after new papers
        assert (
            store.wake_waiting_subscribers(
                session, now=now + dt.timedelta(minutes=6), within=dt.timedelta(hours=1)
            )
            == 1
        )
    assert tick(runtime, smtp_sink, now + dt.timedelta(minutes=7)) == [
        ("bob@example.org", "skipped")
    ]


def test_a_queued_tick_with_nothing_ready_says_it_queued_none(runtime: Runtime) -> None:
    """With the queue, a tick's report always says how many it handed to workers: 0 when nothing
    is ready (the three-worker test's tick during a dead worker's lease found its "queued"
    missing)."""
    now = dt.datetime(2025, 8, 20, 9, tzinfo=UTC)
    subscribe(runtime, "q@example.org", tz="UTC", at=now - dt.timedelta(hours=4))
    handed: list[list[int]] = []

    def enqueue(ids: object) -> int:
        handed.append(list(ids))  # type: ignore[call-overload]
        return 1 if handed[-1] else 0

    first = send_due(runtime.pipeline, mailer=None, now=now, enqueue=enqueue)
    assert first.queued == 1 and first.jobs == 1 and first.as_dict()["queued"] == 1
    later = send_due(
        runtime.pipeline, mailer=None, now=now + dt.timedelta(minutes=5), enqueue=enqueue
    )
    assert later.queued == 0 and later.jobs == 0 and later.as_dict()["queued"] == 0
    assert later.sent == 0
