"""The scheduler's jobs: configured to never overlap, and the delivery tick sends what is due."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

from freezegun import freeze_time

from service.delivery.due import digest_date_due
from service.delivery.runtime import Runtime
from service.delivery.scheduler import build_scheduler, delivery_tick, ingest_tick
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope


def test_jobs_coalesce_and_never_overlap(runtime: Runtime) -> None:
    scheduler = build_scheduler(runtime)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"ingest", "delivery"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1


def test_ticks_ingest_the_folder_and_deliver_to_the_outbox(runtime: Runtime) -> None:
    runtime.settings.listing_dir.mkdir(parents=True)
    (runtime.settings.listing_dir / "day.jsonl").write_bytes(sample_listings_path().read_bytes())
    with freeze_time("2025-08-20 05:00:00"):
        ingest_tick(runtime)
        with session_scope(runtime.factory) as session:
            assert store.count_papers(session) == 119
            store.add_subscriber(
                session, email="ada@example.org", status="active", timezone="Asia/Tokyo", delivery_hour=8,
                cadence="daily", max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
            store.add_subscriber(
                session, email="bob@example.org", status="active", timezone="America/New_York", delivery_hour=8,
                cadence="daily", max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        delivery_tick(runtime)  # 14:00 in Tokyo, 01:00 in New York
        delivery_tick(runtime)
    outbox = sorted(runtime.settings.outbox_dir.glob("*.eml"))
    assert len(outbox) == 1
    message = email.message_from_bytes(outbox[0].read_bytes(), policy=policy.default)
    assert message["To"] == "ada@example.org"
    assert message["Subject"].startswith("3 papers: ")


def test_due_dates_follow_the_local_clock() -> None:
    now = dt.datetime(2025, 3, 30, 6, 30, tzinfo=dt.UTC)  # the night Europe moves to summer time
    assert digest_date_due(
        now=now, timezone="Europe/Berlin", hour=8, cadence="daily", last_digest=None
    ) == dt.date(2025, 3, 30)
    assert (
        digest_date_due(
            now=now, timezone="America/New_York", hour=8, cadence="daily", last_digest=None
        )
        is None
    )
    assert digest_date_due(
        now=now, timezone="Pacific/Kiritimati", hour=8, cadence="daily", last_digest=None
    ) == dt.date(2025, 3, 30)
    assert digest_date_due(
        now=now, timezone="Pacific/Pago_Pago", hour=8, cadence="daily", last_digest=None
    ) == dt.date(2025, 3, 29)
    weekly = dict(now=now, timezone="Europe/Berlin", hour=8, cadence="weekly")
    assert digest_date_due(**weekly, last_digest=dt.date(2025, 3, 27)) is None
    assert digest_date_due(**weekly, last_digest=dt.date(2025, 3, 23)) == dt.date(2025, 3, 30)
