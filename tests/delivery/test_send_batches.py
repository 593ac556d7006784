"""Delivery in batches: a sender claims many rows in one statement, and every message the relay
took is recorded sent before that sender claims anything else (so a crash leaves at most the
claimed, unrecorded batch in doubt, and those rows stay `sending` under their lease)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from service.delivery.runtime import Runtime
from service.storage import store
from service.storage.engine import session_scope
from tests.delivery.test_send_exactly_once import NOW, readers_runtime, send
from tests.support.smtp_sink import SmtpSink

READERS = [f"batch{n}@example.org" for n in range(10)]


def test_what_the_relay_took_is_recorded_sent_before_the_next_claim(
    runtime: Runtime, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    batched = readers_runtime(
        runtime, smtp_sink.url, readers=READERS, smtp_connections=3, send_claim_batch=3
    )
    claims: list[tuple[int, int, int]] = []  # (messages the relay took, rows sent, ids asked)
    claim_deliveries = store.claim_deliveries

    def claim(session: Any, **kwargs: Any) -> Any:
        with session_scope(batched.factory) as other:
            sent = store.count_deliveries_by_status(other).get("sent", 0)
        claims.append((sum(smtp_sink.accepted.values()), sent, len(kwargs["ids"])))
        return claim_deliveries(session, **kwargs)

    monkeypatch.setattr(store, "claim_deliveries", claim)
    report = send(batched, NOW)
    assert report.sent == len(READERS)
    assert [asked for _, _, asked in claims] == [3, 3, 3, 1]  # one statement a batch
    assert all(taken == sent for taken, sent, _ in claims), claims
    assert [taken for taken, _, _ in claims] == [0, 3, 6, 9]
    assert sorted(smtp_sink.accepted) == sorted(READERS)
    assert all(count == 1 for count in smtp_sink.accepted.values())


def test_a_row_is_claimed_by_one_sender_only(runtime: Runtime, smtp_sink: SmtpSink) -> None:
    batched = readers_runtime(runtime, smtp_sink.url, readers=READERS[:4])
    date, lease = NOW.date(), NOW + dt.timedelta(minutes=15)
    with session_scope(batched.factory) as session:
        ids = [
            created.id
            for subscriber in store.list_subscribers(session)
            if (created := store.create_delivery(
                session, subscriber_id=subscriber.id, digest_date=date, items=[], now=NOW
            )) is not None
        ]  # fmt: skip
    with session_scope(batched.factory) as session:
        first = store.claim_deliveries(session, ids=ids, now=NOW, lease_until=lease)
    with session_scope(batched.factory) as session:
        second = store.claim_deliveries(session, ids=ids, now=NOW, lease_until=lease)
    assert [c.delivery_id for c in first] == sorted(ids) and len(ids) == 4 and second == []
    assert {c.attempts for c in first} == {1}
    # Once the lease ran out (its claimer died) the rows are taken over, the attempt counted.
    later = lease + dt.timedelta(seconds=1)
    with session_scope(batched.factory) as session:
        again = store.claim_deliveries(
            session, ids=ids, now=later, lease_until=later + dt.timedelta(minutes=15)
        )
    assert [c.delivery_id for c in again] == sorted(ids) and {c.attempts for c in again} == {2}


def test_once_a_write_of_outcomes_failed_the_recorder_records_nothing_more(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The periodic write may be the one that fails, after the pool's last result of a batch:
    the caller's own write before the next claim must then refuse too (those outcomes are
    lost, their rows stay under lease), so no message of a next batch goes out."""
    from sqlalchemy.exc import OperationalError

    from service.delivery.recorder import Entry, Prepared, Recorder
    from service.errors import StoreWriteError

    def refuse(session: Any, **kwargs: Any) -> None:
        raise OperationalError("UPDATE deliveries", {}, Exception("the database is read-only"))

    claim = store.Claimed(1, 1, NOW.date(), 1)
    written: list[str] = []
    recorder = Recorder(runtime.pipeline, lambda: NOW, lambda o: written.append(o.status), every=60)
    recorder.extend([Entry(Prepared(claim, "a@example.org", 3), "sent", message_id="<m1>")])
    monkeypatch.setattr(store, "finish_deliveries", refuse)
    with pytest.raises(StoreWriteError, match="cannot record delivery 1 as sent"):
        recorder.flush()  # as the flusher thread would, between two results
    monkeypatch.undo()  # the database takes writes again: too late for the lost outcome
    recorder.extend([Entry(Prepared(claim, "a@example.org", 3), "released")])
    with pytest.raises(StoreWriteError, match="cannot record delivery 1 as sent"):
        recorder.flush()
    assert written == ["left"]  # what came after the failure is still written, then it refuses


def test_a_plan_of_many_rows_refreshes_the_planner_statistics(
    runtime: Runtime, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the outbox's tables are analyzed once a run has planned ANALYZE_AFTER rows,
    so the workers' lookups are planned on the day's numbers (not on a never-analyzed table's);
    SQLite plans these lookups without statistics and is left alone."""
    from sqlalchemy import text

    from service.delivery import planning

    monkeypatch.setattr(planning, "ANALYZE_AFTER", 4)
    batched = readers_runtime(runtime, smtp_sink.url, readers=READERS)
    report = send(batched, NOW)
    assert report.sent == len(READERS)
    if batched.engine.dialect.name == "postgresql":
        with session_scope(batched.factory) as session:
            counted = session.execute(
                text("SELECT relname, reltuples FROM pg_class WHERE relname IN "
                     "('deliveries', 'delivery_items')")
            ).all()  # fmt: skip
            items = store.count_delivery_items(session, digest_date=NOW.date())
        assert dict(counted) == {"deliveries": len(READERS), "delivery_items": items}


def test_a_claim_takes_open_rows_of_active_subscribers_only(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    from sqlalchemy import select, update

    from service.storage.models import Delivery, Subscriber

    batched = readers_runtime(runtime, smtp_sink.url, readers=READERS[:7])
    date, soon, past = NOW.date(), NOW + dt.timedelta(minutes=5), NOW - dt.timedelta(minutes=5)
    with session_scope(batched.factory) as session:
        subscribers = sorted(store.list_subscribers(session), key=lambda s: s.email)
        ids = [
            store.create_delivery(
                session, subscriber_id=s.id, digest_date=date, items=[], now=NOW
            ).id  # type: ignore[union-attr]
            for s in subscribers
        ]
    cases: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
        ({}, {}, True),  # pending, its subscriber active
        ({}, {"status": "unsubscribed"}, False),
        ({}, {"suppressed_reason": "hard bounce: 550 no such user"}, False),
        ({"status": "deferred", "next_attempt_at": soon}, {}, False),  # retry not due yet
        ({"status": "deferred", "next_attempt_at": past}, {}, True),
        ({"status": "sending", "lease_until": soon}, {}, False),  # another sender holds it
        ({"status": "sending", "lease_until": past}, {}, True),  # its sender died
    ]
    with session_scope(batched.factory) as session:
        for did, subscriber, (row, person, _) in zip(ids, subscribers, cases, strict=True):
            if row:
                session.execute(update(Delivery).where(Delivery.id == did).values(**row))
            if person:
                session.execute(
                    update(Subscriber).where(Subscriber.id == subscriber.id).values(**person)
                )
    with session_scope(batched.factory) as session:
        won = store.claim_deliveries(session, ids=ids, now=NOW, lease_until=soon)
    claimable = [did for did, (*_, ok) in zip(ids, cases, strict=True) if ok]
    assert [c.delivery_id for c in won] == claimable
    with session_scope(batched.factory) as session:
        statuses = {did: status for did, status in session.execute(
            select(Delivery.id, Delivery.status).where(Delivery.id.in_(ids)))}  # fmt: skip
    assert [statuses[did] for did in ids] == [
        "sending",
        "pending",
        "pending",
        "deferred",
        "sending",
        "sending",
        "sending",
    ]


def test_outcomes_are_written_as_given(runtime: Runtime, smtp_sink: SmtpSink) -> None:
    # One statement writes a batch's outcomes (on PostgreSQL, UPDATE ... FROM unnest(arrays));
    # each row gets its own status, error, retry time and Message-ID, a delivery given twice
    # in a batch its last outcome, and a released one is pending again with its attempt not counted.
    from sqlalchemy import select

    from service.storage.models import Delivery, Subscriber

    batched = readers_runtime(runtime, smtp_sink.url, readers=READERS[:6])
    later, lease = NOW + dt.timedelta(minutes=30), NOW + dt.timedelta(minutes=15)
    with session_scope(batched.factory) as session:
        subscribers = sorted(store.list_subscribers(session), key=lambda s: s.email)
        ids = [
            store.create_delivery(
                session, subscriber_id=s.id, digest_date=NOW.date(), items=[], now=NOW
            ).id  # type: ignore[union-attr]
            for s in subscribers
        ]
        session.execute(
            Subscriber.__table__.update().values(soft_bounces=2)  # type: ignore[attr-defined]
        )
    with session_scope(batched.factory) as session:
        store.claim_deliveries(session, ids=ids, now=NOW, lease_until=lease)
    who = {did: s.id for did, s in zip(ids, subscribers, strict=True)}

    def outcome(did: int, status: str, **extra: Any) -> store.Finished:
        return store.Finished(did, who[did], status, **extra)

    outcomes = [
        outcome(ids[0], "sent", message_id="<a@x>"),
        outcome(ids[1], "deferred", error="451 try later", next_attempt_at=later),
        outcome(ids[2], "failed", error="550 no such user"),
        outcome(ids[3], "in_doubt", error="connection lost after DATA"),
        outcome(ids[4], "released"),
        outcome(ids[5], "failed", error="554 rejected"),
        outcome(ids[5], "deferred", error="421 busy", next_attempt_at=later),  # the last counts
    ]
    with session_scope(batched.factory) as session:
        store.finish_deliveries(session, outcomes=outcomes, now=NOW)
    with session_scope(batched.factory) as session:
        rows = {
            row.id: row
            for row in session.execute(
                select(Delivery.id, Delivery.status, Delivery.message_id, Delivery.last_error,
                       Delivery.next_attempt_at, Delivery.sent_at, Delivery.lease_until,
                       Delivery.attempts)
                .where(Delivery.id.in_(ids))
            )
        }  # fmt: skip
        bounces = dict(session.execute(select(Subscriber.id, Subscriber.soft_bounces)).all())
    got = [
        (r.status, r.message_id, r.last_error, r.next_attempt_at, r.sent_at is not None)
        for r in (rows[did] for did in ids)
    ]
    assert got == [
        ("sent", "<a@x>", None, None, True),
        ("deferred", None, "451 try later", later, False),
        ("failed", None, "550 no such user", None, False),
        ("in_doubt", None, "connection lost after DATA", None, False),
        ("pending", None, None, None, False),
        ("deferred", None, "421 busy", later, False),
    ]
    assert all(rows[did].lease_until is None for did in ids)
    assert rows[ids[4]].attempts == rows[ids[0]].attempts - 1
    assert [bounces[who[did]] for did in ids] == [0, 2, 2, 2, 2, 2]
