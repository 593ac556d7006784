"""The store's plain-row reads (subscribers and papers read with Core, not ORM objects) give
exactly what the ORM objects give, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.delivery.runtime import Runtime
from service.storage import store
from service.storage.engine import session_scope
from service.storage.models import Paper, Subscriber
from service.storage.rows import SubscriberRow

NOW = dt.datetime(2025, 8, 21, 9, 0, tzinfo=dt.UTC)

FULL = {
    "title": "Every field", "abstract": "An abstract.", "arxiv_id": "2508.00001",
    "authors": ["Ada Lovelace", "Alan Turing"], "author_count": 2,
    "categories": ["cs.LG", "cs.CL"], "published": dt.date(2025, 8, 20), "sources": ["hf", "arxiv"],
    "upvotes": 42, "comments": 3, "stars": 7, "abstract_url": "https://arxiv.org/abs/2508.00001",
    "pdf_url": "https://arxiv.org/pdf/2508.00001", "code_url": "https://github.com/a/b",
    "project_url": "https://example.org/p", "ai_summary": "A summary.",
}  # fmt: skip


def test_subscribers_and_papers_as_rows_match_the_orm(runtime: Runtime) -> None:
    with session_scope(runtime.factory) as session:
        ada = store.add_subscriber(
            session, email="ada@example.org", status="active", timezone="Europe/Berlin",
            delivery_hour=7, cadence="weekly", max_papers=12, now=NOW,
            topics=[("keyword", "diffusion", 2.0), ("category", "cs.CV", 1.0),
                    ("exclude", "survey", 1.0)],
        )  # fmt: skip
        bob = store.add_subscriber(
            session, email="bob@example.org", status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=10, topics=[], now=NOW,
        )  # fmt: skip
        full = store.insert_paper(session, key="2508.00001", fields=FULL, now=NOW)
        bare = store.insert_paper(session, key="title:bare", fields={"title": "Bare"}, now=NOW)
        session.flush()
        ids = [ada.id, bob.id]
        paper_ids = [full.id, bare.id]
    with session_scope(runtime.factory) as session:
        rows = store.subscribers_by_id(session, ids=[*ids, 999_999])
        orm = {i: SubscriberRow.of(session.get(Subscriber, i)) for i in ids}
        assert rows == orm
        assert [t.text for t in rows[ids[0]].topics] == ["diffusion", "cs.CV", "survey"]
        assert rows[ids[1]].topics == ()
        due = store.due_subscribers(session, now=NOW, after_id=0, limit=10, everyone=True)
        assert [row for row, _ in due] == [orm[i] for i in ids]
        assert [when for _, when in due] == [session.get(Subscriber, i).next_due_at for i in ids]
        papers = store.papers_by_id(session, ids=paper_ids)
        assert papers == {i: store.to_candidate(session.get(Paper, i)) for i in paper_ids}
        assert papers[paper_ids[0]].authors == ("Ada Lovelace", "Alan Turing")
        assert papers[paper_ids[1]].abstract == "" and papers[paper_ids[1]].sources == ()
        assert store.candidates_since(session, since=NOW - dt.timedelta(days=1)) == [
            papers[i] for i in sorted(paper_ids)
        ]
        assert store.latest_papers(session, limit=5) == [
            papers[i] for i in paper_ids
        ]  # most upvoted
        assert store.trending_papers(session, window=dt.timedelta(days=2), limit=5) == [
            papers[paper_ids[0]], papers[paper_ids[1]]
        ]  # fmt: skip


def _reader(session: Session) -> Subscriber:
    return store.add_subscriber(
        session, email="ada@example.org", status="active", timezone="UTC", delivery_hour=8,
        cadence="daily", max_papers=10, topics=[("keyword", "diffusion", 1.0)], now=NOW,
    )  # fmt: skip


def test_items_of_deliveries_read_every_reason_back(runtime: Runtime) -> None:
    reasons = ['matches "diffusion"', "trending: 42 upvotes", 'like "Ünïcode \\"quoted\\""']
    with session_scope(runtime.factory) as session:
        sub = _reader(session)
        one = store.insert_paper(session, key="2508.00001", fields=FULL, now=NOW)
        two = store.insert_paper(session, key="title:bare", fields={"title": "Bare"}, now=NOW)
        session.flush()
        (did,) = store.create_deliveries(
            session, now=NOW,
            rows=[(sub.id, NOW.date(), [(one.id, 0.9, reasons, "Diffusion"), (two.id, 0.5, [])])],
        )  # fmt: skip
    with session_scope(runtime.factory) as session:
        first, second = store.items_of_deliveries(session, ids=[did])[did]
        assert (first.paper_id, first.reasons, first.interest) == (
            one.id,
            tuple(reasons),
            "Diffusion",
        )
        assert (second.paper_id, second.reasons, second.interest) == (two.id, (), None)


def test_a_conflicting_item_fails_the_whole_insert_as_an_integrity_error(runtime: Runtime) -> None:
    """The planner falls back to one delivery at a time on IntegrityError; the bulk path (COPY
    on PostgreSQL) must raise that, and leave nothing behind."""
    with session_scope(runtime.factory) as session:
        sub = _reader(session)
        paper = store.insert_paper(session, key="2508.00001", fields=FULL, now=NOW)
        session.flush()
        ids = sub.id, paper.id
    with pytest.raises(IntegrityError), session_scope(runtime.factory) as session:
        store.create_deliveries(
            session, now=NOW,
            rows=[(ids[0], NOW.date(), [(ids[1], 0.9, ["a"]), (ids[1], 0.8, ["b"])])],
        )  # fmt: skip
    with session_scope(runtime.factory) as session:
        assert store.count_deliveries_by_status(session) == {}


def test_paper_lists_read_as_json_text_decode_as_the_orm_reads_them(runtime: Runtime) -> None:
    """Escapes, non-ASCII names and a JSON null come out of the list columns' text the same."""
    fields = {"title": "Odd", "authors": ['Zoë "Z" Ünal', "back\\slash"], "sources": None}
    with session_scope(runtime.factory) as session:
        odd = store.insert_paper(session, key="title:odd", fields=fields, now=NOW)
        session.flush()
        odd_id = odd.id
    with session_scope(runtime.factory) as session:
        [paper] = store.papers_by_id(session, ids=[odd_id]).values()
        assert paper == store.to_candidate(session.get(Paper, odd_id))
        assert paper.authors == ('Zoë "Z" Ünal', "back\\slash") and paper.sources == ()
