"""A worker's batch queries on PostgreSQL look their rows up by id or subscriber, however old the
planner's statistics are.

The day's plan writes a million pending deliveries into a table whose last ANALYZE saw none
pending (or saw no table at all). With a status index to hand, PostgreSQL then planned the claim
as a bitmap scan of every open delivery for each active subscriber, and a subscriber's last sent
digest as a walk over every sent delivery: work that grows with the table, for each batch of 100.
These plans are read with EXPLAIN ANALYZE in exactly that state.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from service.delivery.runtime import Runtime
from service.storage import store
from service.storage.engine import session_scope

NOW = dt.datetime(2025, 8, 21, 9, 0, tzinfo=dt.UTC)
TODAY, YESTERDAY = NOW.date(), NOW.date() - dt.timedelta(days=1)
SUBSCRIBERS = 3000
STATUS_INDEXES = {"ix_deliveries_status", "ix_deliveries_open", "ix_subscribers_status"}

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def fill(session: Session, *, analyzed: str) -> None:
    """SUBSCRIBERS active subscribers, each sent yesterday's digest and due today's (pending).
    The statistics are from an ANALYZE that saw yesterday's deliveries ``analyzed`` ("sent":
    after they went, "pending": before) and no delivery of today's."""
    session.execute(
        text(
            "INSERT INTO subscribers (email, status, timezone, delivery_hour, cadence, max_papers,"
            " created_at) SELECT 'reader' || n || '@example.org', 'active', 'UTC', 8, 'daily', 10,"
            " :now FROM generate_series(1, :count) AS n"
        ),
        {"now": NOW, "count": SUBSCRIBERS},
    )
    insert = text(
        "INSERT INTO deliveries (subscriber_id, digest_date, status, attempts, created_at,"
        " updated_at) SELECT id, :day, :status, 0, :now, :now FROM subscribers"
    )
    session.execute(insert, {"day": YESTERDAY, "status": analyzed, "now": NOW})
    session.commit()
    session.execute(text("ANALYZE subscribers"))
    session.execute(text("ANALYZE deliveries"))
    session.execute(text("UPDATE deliveries SET status = 'sent', sent_at = :now"), {"now": NOW})
    session.execute(insert, {"day": TODAY, "status": "pending", "now": NOW})
    session.commit()


def statements(session: Session, engine: Any, call: Callable[[Session], Any]) -> list[Any]:
    """The (statement, parameters) of each SELECT and UPDATE ``call`` sends (an executemany
    left out), ``call`` run in ``session``."""
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        call(session)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return sent


def plans(runtime: Runtime, call: Callable[[Session], Any]) -> Iterator[dict[str, Any]]:
    """Every plan node of the statements ``call`` sends, as EXPLAIN ANALYZE gives them (run in
    a transaction rolled back, so nothing changes)."""
    with session_scope(runtime.factory) as session:
        sent = statements(session, runtime.engine, call)
        session.rollback()
        cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for statement, params in sent:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
            (document,) = cursor.fetchone()
            document = json.loads(document) if isinstance(document, str) else document
            yield from _nodes(document[0]["Plan"])
        session.rollback()


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


@pytest.fixture(params=["sent", "pending"])
def stale(runtime: Runtime, request: pytest.FixtureRequest) -> Runtime:
    """``runtime`` with its tables filled (``fill``): the last ANALYZE saw yesterday's
    deliveries ``request.param``."""
    with session_scope(runtime.factory) as session:
        fill(session, analyzed=request.param)
    return runtime


@on_postgresql
def test_a_claim_finds_its_rows_by_id_however_old_the_statistics(stale: Runtime) -> None:
    runtime = stale
    with session_scope(runtime.factory) as session:
        today = sorted(
            session.scalars(
                text("SELECT id FROM deliveries WHERE digest_date = :d"), {"d": TODAY}
            ).all()
        )
    batch = today[1000:1100]
    lease = NOW + dt.timedelta(minutes=5)
    nodes = list(
        plans(runtime, lambda s: store.claim_deliveries(s, ids=batch, now=NOW, lease_until=lease))
    )
    assert nodes, "the claim sent no statement"
    used = {node.get("Index Name") for node in nodes} & STATUS_INDEXES
    assert not used, f"the claim was planned on {used}"
    # No table or index is read again and again (once for each active subscriber, as it was):
    # at most once per row asked for.
    loops = {
        (node["Node Type"], node.get("Index Name") or node["Relation Name"]): node["Actual Loops"]
        for node in nodes
        if "Relation Name" in node
    }
    assert max(loops.values()) <= len(batch), loops
    # And the claim itself still claims exactly those rows.
    with session_scope(runtime.factory) as session:
        won = store.claim_deliveries(session, ids=batch, now=NOW, lease_until=lease)
    assert [claim.delivery_id for claim in won] == batch


@on_postgresql
def test_a_subscribers_last_digest_is_not_looked_up_through_the_status_index(
    stale: Runtime,
) -> None:
    runtime = stale
    with session_scope(runtime.factory) as session:
        subscriber_ids = sorted(session.scalars(text("SELECT id FROM subscribers")).all())[:100]
    nodes = list(
        plans(runtime, lambda s: store.last_digest_dates(s, subscriber_ids=subscriber_ids))
    )
    used = {node.get("Index Name") for node in nodes} & STATUS_INDEXES
    assert not used, f"planned on {used}"
    with session_scope(runtime.factory) as session:
        found = store.last_digest_dates(session, subscriber_ids=subscriber_ids)
    assert found == dict.fromkeys(subscriber_ids, YESTERDAY)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_finds_the_deliveries_to_resume_through_the_open_index(runtime: Runtime) -> None:
    """SQLite uses a partial index only for a query that states its condition: the planner's
    look for deliveries to resume must not read the whole table (a year of sent digests)."""
    with session_scope(runtime.factory) as session:
        (statement, params), *_ = statements(
            session, runtime.engine,
            lambda s: store.resumable_subscriber_ids(s, now=NOW, pending_before=NOW),
        )  # fmt: skip
        cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        plan = " ".join(
            str(row[-1]) for row in cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
        )
    assert "ix_deliveries_open" in plan, plan
