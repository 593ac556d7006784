"""Store queries not covered elsewhere: feedback votes (one per subscriber and paper, replaceable) and bulk subscriber inserts."""

from __future__ import annotations

import datetime as dt

import pytest

from service.delivery.runtime import Runtime
from service.storage import store
from service.storage.engine import session_scope

NOW = dt.datetime(2025, 8, 21, 9, 0, tzinfo=dt.UTC)


def test_a_vote_is_stored_replaced_and_not_duplicated(runtime: Runtime) -> None:
    with session_scope(runtime.factory) as session:
        subscriber = store.add_subscriber(
            session,
            email="ada@example.org",
            status="active",
            timezone="UTC",
            delivery_hour=8,
            cadence="daily",
            max_papers=10,
            topics=[],
            now=NOW,
        )
        paper = store.insert_paper(session, key="2508.00001", fields={"title": "A paper"}, now=NOW)
        session.flush()
        sid, pid = subscriber.id, paper.id
    with session_scope(runtime.factory) as session:
        assert store.record_feedback(session, subscriber_id=sid, paper_id=pid, vote=1, now=NOW)
        assert not store.record_feedback(session, subscriber_id=sid, paper_id=pid, vote=1, now=NOW)
        assert store.record_feedback(session, subscriber_id=sid, paper_id=pid, vote=-1, now=NOW)
    with session_scope(runtime.factory) as session:
        assert store.feedback_votes(session, subscriber_ids=[sid, sid + 1]) == {sid: {pid: -1}}
        with pytest.raises(ValueError, match="vote"):
            store.record_feedback(session, subscriber_id=sid, paper_id=pid, vote=2, now=NOW)


def test_subscribers_are_added_in_bulk_with_their_topics(runtime: Runtime) -> None:
    rows = [
        {"email": f"reader{i}@example.org", "status": "active", "timezone": "UTC", "delivery_hour": 8,
         "cadence": "daily", "max_papers": 10, "topics": [("keyword", f"topic {i}", 1.0)] * (i % 3)}
        for i in range(1200)
    ]  # fmt: skip
    with session_scope(runtime.factory) as session:
        ids = store.add_subscribers_bulk(session, rows=rows, now=NOW)
    with session_scope(runtime.factory) as session:
        assert len(set(ids)) == 1200
        last = store.get_subscriber_by_id(session, subscriber_id=ids[-1])
        assert last is not None and last.email == "reader1199@example.org"
        assert [t.text for t in last.topics] == ["topic 1199"] * 2
        assert last.confirmed_at == NOW
