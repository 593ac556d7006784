"""The outbox state machine against a real SMTP server: deadlines, leases, unsubscribes, status."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlalchemy import select, update

from service.cli.main import cli
from service.delivery.due import due_at
from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.delivery.smtp_mailer import SmtpMailer
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope
from service.storage.models import Delivery
from tests.support.smtp_sink import SmtpSink

T0 = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)


def setup(runtime: Runtime, *emails: str, tz: str = "UTC") -> None:
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=T0)
    with session_scope(runtime.factory) as session:
        for address in emails:
            store.add_subscriber(
                session, email=address, status="active", timezone=tz, delivery_hour=8, cadence="daily",
                max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=T0,
            )  # fmt: skip


def send(runtime: Runtime, sink: SmtpSink, now: dt.datetime) -> dict[str, object]:
    with SmtpMailer(sink.url) as mailer:
        return send_due(runtime.pipeline, mailer=mailer, now=now).as_dict()


def statuses(runtime: Runtime) -> dict[str, int]:
    with session_scope(runtime.factory) as session:
        return store.count_deliveries_by_status(session)


def test_due_at_handles_dst_gaps_and_far_time_zones() -> None:
    day = dt.date(2025, 3, 30)
    assert due_at(digest_date=day, timezone="Europe/Berlin", hour=8) == dt.datetime(
        2025, 3, 30, 6, tzinfo=dt.UTC
    )
    assert due_at(digest_date=day, timezone="Europe/Berlin", hour=2) == dt.datetime(
        2025, 3, 30, 1, tzinfo=dt.UTC
    )
    assert due_at(digest_date=day, timezone="Pacific/Kiritimati", hour=8) == dt.datetime(
        2025, 3, 29, 18, tzinfo=dt.UTC
    )
    assert due_at(digest_date=day, timezone="Pacific/Pago_Pago", hour=8) == dt.datetime(
        2025, 3, 30, 19, tzinfo=dt.UTC
    )


def test_late_digests_are_missed_not_sent_in_the_afternoon(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    setup(runtime, "ada@example.org")
    # The service was down all morning: at 15:00 UTC the 08:00 digest is past the 6-hour deadline.
    assert send(runtime, smtp_sink, dt.datetime(2025, 8, 20, 15, tzinfo=dt.UTC))["missed"] == 1
    assert smtp_sink.deliveries == [] and statuses(runtime) == {"missed": 1}
    # Within the deadline it catches up; the next day's digest carries the papers.
    assert send(runtime, smtp_sink, dt.datetime(2025, 8, 21, 13, tzinfo=dt.UTC))["sent"] == 1
    assert len(smtp_sink.deliveries) == 1


def test_a_dead_workers_claim_is_taken_over_after_its_lease(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    setup(runtime, "ada@example.org")
    now = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
    smtp_sink.fail_next(1, "451 4.3.0 later")
    assert send(runtime, smtp_sink, now)["deferred"] == 1
    # Simulate a process that claimed the retry and died before recording the outcome.
    with session_scope(runtime.factory) as session:
        session.execute(
            update(Delivery).values(status="sending", lease_until=now + dt.timedelta(minutes=15))
        )
    # Lease still held: Ada is not due (her digest is settled, her next due time is tomorrow).
    assert send(runtime, smtp_sink, now + dt.timedelta(minutes=10))["sent"] == 0
    assert smtp_sink.deliveries == []
    assert send(runtime, smtp_sink, now + dt.timedelta(minutes=20))["sent"] == 1
    assert len(smtp_sink.deliveries) == 1 and statuses(runtime) == {"sent": 1}


def test_an_unsubscribe_between_planning_and_claim_is_honoured(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    setup(runtime, "ada@example.org")
    now = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
    smtp_sink.fail_next(1, "451 4.3.0 later")
    send(runtime, smtp_sink, now)
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email="ada@example.org")
        assert subscriber is not None
        store.set_subscriber_status(session, subscriber_id=subscriber.id, status="unsubscribed")
    send(runtime, smtp_sink, now + dt.timedelta(hours=1))
    assert smtp_sink.deliveries == []
    with session_scope(runtime.factory) as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.status == "deferred"
        assert store.claim_deliveries(
            session, ids=[delivery.id], now=now + dt.timedelta(hours=2), lease_until=now + dt.timedelta(hours=3)
        ) == []  # fmt: skip


def test_permanent_failures_are_not_retried_and_show_in_deliveries(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    setup(runtime, "ada@example.org", "bob@example.org")
    now = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
    smtp_sink.fail_next(1, "550 5.1.1 no such user", stage="rcpt")
    first = send(runtime, smtp_sink, now)
    assert (first["sent"], first["failed"]) == (1, 1)
    assert send(runtime, smtp_sink, now + dt.timedelta(hours=1))["sent"] == 0
    assert len(smtp_sink.deliveries) == 1
    result = CliRunner().invoke(
        cli, ["deliveries", "--date", "2025-08-20", "--json"],
        env={"PAPERBOY_DATABASE_URL": runtime.settings.database_url}, catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["by_status"] == {"failed": 1, "sent": 1}
    [error] = report["recent_errors"]
    assert error["status"] == "failed" and "550" in error["error"] and error["attempts"] == 1


def test_a_chunk_whose_row_another_run_created_falls_back_to_one_at_a_time(
    runtime: Runtime,
) -> None:
    from service.delivery.planning import _record_new
    from service.delivery.run import SendReport

    setup(runtime, "ada@example.org", "bob@example.org")
    date = dt.date(2025, 8, 20)
    now = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
    with session_scope(runtime.factory) as session:
        ada, bob = (
            store.get_subscriber(session, email=e) for e in ("ada@example.org", "bob@example.org")
        )
        assert ada is not None and bob is not None
        taken = store.create_delivery(
            session, subscriber_id=ada.id, digest_date=date, items=[], now=now
        )
        assert taken is not None
        report, ready = SendReport(), []  # type: ignore[var-annotated]
        # Ada's row exists (another planner won it); Bob's does not.
        _record_new(session, [(ada, date, []), (bob, date, [])], now, report, ready)
        assert [o.status for o in report.outcomes] == [
            "skipped"
        ] and "another run" in report.outcomes[0].detail
        assert len(ready) == 1 and ready[0] != taken.id
    with session_scope(runtime.factory) as session:
        assert store.count_deliveries_by_status(session) == {"pending": 2}


def test_send_with_a_forced_date_keeps_the_weekly_cadence(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    setup(runtime, "ada@example.org")
    with session_scope(runtime.factory) as session:
        ada = store.get_subscriber(session, email="ada@example.org")
        assert ada is not None
        ada.cadence = "weekly"
    outcomes = []
    with SmtpMailer(smtp_sink.url) as mailer:
        for day in range(7):  # `paperboy send --date D` on seven consecutive days
            date = dt.date(2025, 8, 18) + dt.timedelta(days=day)
            now = dt.datetime.combine(date, dt.time(9), tzinfo=dt.UTC)
            report = send_due(runtime.pipeline, mailer=mailer, now=now, digest_date=date)
            outcomes.append((report.sent, report.skipped))
    assert outcomes == [(1, 0)] + [(0, 1)] * 6
    assert len(smtp_sink.deliveries) == 1 and statuses(runtime) == {"sent": 1}
    # A week after the first, the forced date is due again.
    with SmtpMailer(smtp_sink.url) as mailer:
        now = dt.datetime(2025, 8, 25, 9, tzinfo=dt.UTC)
        assert send_due(runtime.pipeline, mailer=mailer, now=now, digest_date=now.date()).sent == 1


def test_message_ids_are_opaque_and_the_same_for_a_resent_delivery(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    import re

    setup(runtime, "ada@example.org", "bob@example.org")
    now = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
    assert send(runtime, smtp_sink, now)["sent"] == 2
    ids = {m["X-RcptTo"]: m["Message-ID"] for m in smtp_sink.messages}
    with session_scope(runtime.factory) as session:
        rows = {d.id: d for d in session.scalars(select(Delivery))}
    for message_id in ids.values():
        # Neither the date nor a sequential id: 128 bits of a keyed hash of the delivery.
        assert re.fullmatch(r"<paperboy\.[0-9a-f]{32}@[a-z0-9.-]+>", message_id), message_id
        assert "20250820" not in message_id
        assert all(f".{i}." not in message_id for i in rows)
    assert len(set(ids.values())) == 2
    assert {d.message_id for d in rows.values()} == set(ids.values())
    # A crash after the server's 250 and before our commit: the delivery is sent again, with the
    # same Message-ID, so the receiver can tell it is the same message.
    with session_scope(runtime.factory) as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == min(rows))
            .values(status="sending", lease_until=now, message_id=None)
        )
    assert send(runtime, smtp_sink, now + dt.timedelta(minutes=20))["sent"] == 1
    assert all(len(found) == 1 for found in smtp_sink.message_ids.values())
    assert len(smtp_sink.deliveries) == 3


def test_quiet_days_send_nothing_and_the_next_digest_says_so(
    runtime: Runtime, smtp_sink: SmtpSink, tmp_path
) -> None:
    # arXiv and Daily Papers announce nothing for Saturday and Sunday: no "no new papers" email
    # then, and Monday's digest mentions it. A weekday without arXiv papers gets a note naming it.
    runtime.settings = runtime.settings.model_copy(update={"sources": "files,hf_daily,arxiv"})
    runtime.pipeline.settings = runtime.settings
    setup(runtime, "ada@example.org")
    friday, saturday, sunday, monday = (
        dt.date(2025, 8, 22) + dt.timedelta(days=d) for d in range(4)
    )
    at_nine = {d: dt.datetime.combine(d, dt.time(9), tzinfo=dt.UTC) for d in (friday, saturday, sunday, monday)}  # fmt: skip
    report = send(runtime, smtp_sink, dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC))
    assert report["sent"] == 1
    smtp_sink.clear()
    # Friday: arXiv should have announced, yet nothing new came at all.
    assert send(runtime, smtp_sink, at_nine[friday])["sent"] == 1
    [note] = smtp_sink.messages
    text = " ".join(note.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    assert "No new papers were announced today" in text
    assert "No new papers came from arXiv today" in text and "will catch up" in text
    assert "Hugging Face Daily Papers" in text
    smtp_sink.clear()
    # The weekend: nothing is sent, no row is written, nothing is missed after the deadline.
    for day in (saturday, sunday):
        report = send(runtime, smtp_sink, at_nine[day])
        assert report["sent"] == 0 and report["skipped"] == 1
        assert send(runtime, smtp_sink, at_nine[day] + dt.timedelta(hours=8))["missed"] == 0
    assert smtp_sink.deliveries == [] and statuses(runtime) == {"sent": 2}
    # Monday: papers announced (arXiv) that match; the digest mentions the quiet weekend.
    listing = tmp_path / "monday.jsonl"
    listing.write_text(
        json.dumps({"title": "Reasoning with small models", "abstract": "Reasoning is hard."})
        + "\n"
    )
    ingest_file(
        runtime.factory, path=listing, source="arxiv", now=at_nine[monday] - dt.timedelta(hours=4)
    )
    assert send(runtime, smtp_sink, at_nine[monday])["sent"] == 1
    [digest] = smtp_sink.messages
    text = " ".join(digest.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    html = digest.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Reasoning with small models" in text
    for body in (text, html):
        assert "Nothing was announced on Saturday and Sunday." in body
    assert "came from" not in text  # arXiv had papers; Daily Papers is not named without a gap


def test_a_quiet_day_with_papers_still_sends_and_skip_empty_still_skips(
    runtime: Runtime, smtp_sink: SmtpSink, tmp_path
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"sources": "files,arxiv"})
    runtime.pipeline.settings = runtime.settings
    setup(runtime, "ada@example.org", "bob@example.org")
    with session_scope(runtime.factory) as session:
        bob = store.get_subscriber(session, email="bob@example.org")
        assert bob is not None
        bob.skip_empty = True
        bob.topics[0].text = "xyzzy"

    def outcomes(now: dt.datetime) -> dict[str, tuple[str, str]]:
        with SmtpMailer(smtp_sink.url) as mailer:
            report = send_due(runtime.pipeline, mailer=mailer, now=now)
        return {o.email: (o.status, o.detail) for o in report.outcomes}

    # Friday, a listing day: Ada's digest goes; Bob's topics match nothing and he skips empty days.
    friday = outcomes(dt.datetime(2025, 8, 22, 9, tzinfo=dt.UTC))
    assert friday["ada@example.org"][0] == "sent"
    assert friday["bob@example.org"] == ("skipped", "no new papers match (skip empty days)")
    # Saturday, a quiet day on the calendar, but a paper came in through the files source: sent.
    listing = tmp_path / "saturday.jsonl"
    listing.write_text(json.dumps({"title": "Reasoning on a Saturday", "abstract": "Reasoning."}))
    ingest_file(runtime.factory, path=listing, now=dt.datetime(2025, 8, 23, 6, tzinfo=dt.UTC))
    smtp_sink.clear()
    saturday = outcomes(dt.datetime(2025, 8, 23, 9, tzinfo=dt.UTC))
    assert saturday["ada@example.org"][0] == "sent" and saturday["bob@example.org"][0] == "skipped"
    assert "Reasoning on a Saturday" in smtp_sink.messages[0]["Subject"]
    # Monday, without skip_empty: papers came (the window since he subscribed holds the sample's)
    # and none matched Bob's topics, which the note says, rather than "nothing was announced".
    with session_scope(runtime.factory) as session:
        bob = store.get_subscriber(session, email="bob@example.org")
        assert bob is not None
        bob.skip_empty = False
    smtp_sink.clear()
    assert outcomes(dt.datetime(2025, 8, 25, 9, tzinfo=dt.UTC))["bob@example.org"][0] == "sent"
    [note] = [m for m in smtp_sink.messages if m["X-RcptTo"] == "bob@example.org"]
    text = " ".join(note.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    assert "None of the" in text and "new papers today matched your topics" in text
