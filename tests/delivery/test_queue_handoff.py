"""With the delivery queue, a long plan hands its rows to workers as it goes: workers start on
the first planned rows while the rest are planned, every row is queued exactly once, and only
rows already committed are queued (a worker never gets an id it cannot find)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from service.delivery import planning
from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.settings import Settings
from service.storage import store
from service.storage.engine import session_scope

UTC = dt.UTC
NOW = dt.datetime(2025, 8, 20, 9, tzinfo=UTC)


def test_planned_rows_reach_workers_while_the_rest_is_planned(
    settings: Settings, migrate: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(settings.database_url)  # type: ignore[operator]
    runtime = Runtime(settings.model_copy(update={"delivery_batch_size": 2}))
    monkeypatch.setattr(planning, "PLAN_CHUNK", 2)
    monkeypatch.setattr(planning, "QUEUE_EVERY", 3)
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=NOW)
    with session_scope(runtime.factory) as session:
        for n in range(9):
            store.add_subscriber(
                session, email=f"r{n}@example.org", status="active", timezone="UTC",
                delivery_hour=8, cadence="daily", max_papers=3,
                topics=[("keyword", "reasoning", 1.0)], now=NOW - dt.timedelta(hours=4),
            )  # fmt: skip

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
