"""With the delivery queue, a long plan hands its rows to workers as it goes: workers start on
the first planned rows while the rest are planned, every row is queued exactly once, and only
rows already committed are queued (a worker never gets an id it cannot find)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from service.delivery import planning
from service.delivery.fan_out import fan_out
from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.settings import Settings, load_settings
from service.storage import store
from service.storage.engine import session_scope
from tests.support.smtp_sink import SmtpSink

UTC = dt.UTC
NOW = dt.datetime(2025, 8, 20, 9, tzinfo=UTC)


def add_readers(runtime: Runtime, count: int) -> None:
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=NOW)
    with session_scope(runtime.factory) as session:
        for n in range(count):
            store.add_subscriber(
                session, email=f"r{n}@example.org", status="active", timezone="UTC",
                delivery_hour=8, cadence="daily", max_papers=3,
                topics=[("keyword", "reasoning", 1.0)], now=NOW - dt.timedelta(hours=4),
            )  # fmt: skip


def test_planned_rows_reach_workers_while_the_rest_is_planned(
    settings: Settings, migrate: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(settings.database_url)  # type: ignore[operator]
    runtime = Runtime(settings.model_copy(update={"delivery_batch_size": 2}))
    monkeypatch.setattr(planning, "PLAN_CHUNK", 2)
    monkeypatch.setattr(planning, "QUEUE_EVERY", 3)
    add_readers(runtime, 9)

    handed: list[list[int]] = []
    rows_when_handed: list[int] = []

    def enqueue(ids: Sequence[int]) -> int:
        # What a worker would see now, from its own connection: every id is there to claim.
        with session_scope(runtime.factory) as session:
            by_status = store.count_deliveries_by_status(session)
            assert len(store.deliveries_to_queue(
                session, ids=ids, now=NOW, stale_before=NOW - dt.timedelta(hours=1)
            )) == len(ids)  # fmt: skip
        rows_when_handed.append(sum(by_status.values()))
        handed.append(list(ids))
        return (len(ids) + 1) // 2

    try:
        report = send_due(runtime.pipeline, mailer=None, now=NOW, enqueue=enqueue)
    finally:
        runtime.engine.dispose()

    queued = [i for batch in handed for i in batch]
    assert len(handed) > 1, "everything was queued in one go, after the whole plan"
    assert rows_when_handed[0] < 9, "the first rows were queued only after the whole plan"
    assert len(queued) == len(set(queued)) == 9  # each planned row queued exactly once
    assert report.queued == 9 and report.jobs == sum((len(b) + 1) // 2 for b in handed)


def test_a_plan_queued_in_several_hand_overs_is_sent_by_a_worker_process(
    postgres_server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """The real queue, with the plan handed over in several calls from one process and a
    `paperboy worker --once` process sending: each hand-over's jobs carry the task name the
    worker knows (a second app in the planning process once renamed the shared tasks, and the
    worker refused every job after the first hand-over as an unknown task)."""
    monkeypatch.setattr(planning, "PLAN_CHUNK", 2)
    monkeypatch.setattr(planning, "QUEUE_EVERY", 3)
    url = postgres_server.create_database()
    sink = SmtpSink(record=True).start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
        "PAPERBOY_DATABASE_URL": url,
        "PAPERBOY_DELIVERY_QUEUE": "procrastinate",
        "PAPERBOY_SECRET_KEY": "handoff-test-secret",
        "PAPERBOY_BASE_URL": "https://paperboy.example.org",
        "PAPERBOY_FROM": "Paperboy <digest@paperboy.example.org>",
        "PAPERBOY_SMTP_URL": sink.url,
        "PAPERBOY_DELIVERY_BATCH_SIZE": "2",
        "PAPERBOY_LOG_LEVEL": "WARNING",
    }
    try:
        postgres_server.migrate_database(url)
        runtime = Runtime(
            load_settings(
                database_url=url, delivery_queue="procrastinate", delivery_batch_size=2,
                secret_key="handoff-test-secret", base_url="https://paperboy.example.org",
                outbox_dir=tmp_path / "outbox",
            )
        )  # fmt: skip
        add_readers(runtime, 9)
        report = send_due(
            runtime.pipeline, mailer=None, now=NOW, digest_date=NOW.date(), enqueue=fan_out(runtime)
        )
        assert report.queued == 9 and report.jobs >= 3
        worker = subprocess.run(
            [sys.executable, "-m", "service", "worker", "--once"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr
        with session_scope(runtime.factory) as session:
            assert store.count_deliveries_by_status(session) == {"sent": 9}, worker.stderr[-2000:]
        assert sorted(sink.accepted) == [f"r{n}@example.org" for n in range(9)]
        assert set(sink.accepted.values()) == {1}
        runtime.engine.dispose()
    finally:
        sink.stop()
        postgres_server.drop_database(url)
