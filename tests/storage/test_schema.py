"""Migrations: up and down on both databases, and the models never drift from them."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from service.storage import migrations
from service.storage.engine import make_engine
from service.storage.models import Base


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrations.upgrade(database_url)
        assert migrations.current_revision(engine) == migrations.head_revision(database_url)
        assert "skip_empty" in {c["name"] for c in inspect(engine).get_columns("subscribers")}
        assert "vector" in {c["name"] for c in inspect(engine).get_columns("paper_embeddings")}
        migrations.downgrade(database_url, "base")
        assert migrations.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(database_url)
        migrations.require_current(engine, database_url)
    finally:
        engine.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrations.upgrade(database_url)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_interests_migration_keeps_every_topic(database_url: str) -> None:
    """0012 puts each subscriber's topics in one interest named after them; down folds them back."""
    engine = make_engine(database_url)
    try:
        migrations.upgrade(database_url, "0009")
        with engine.begin() as c:
            for sid, email in ((1, "a@example.org"), (2, "b@example.org"), (3, "c@example.org")):
                c.execute(
                    text(
                        "INSERT INTO subscribers (id, email, status, timezone, delivery_hour, "
                        "cadence, max_papers, skip_empty, created_at, soft_bounces) VALUES "
                        "(:id, :e, 'active', 'UTC', 8, 'daily', 10, false, :now, 0)"
                    ),
                    {"id": sid, "e": email, "now": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
                )
            topics = [
                (1, "keyword", "reinforcement learning", 1.0),
                (1, "category", "cs.CL", 2.0),
                (1, "exclude", "robotics", 1.0),
                (2, "keyword", "x" * 50, 1.0),
                (2, "keyword", "y" * 50, 1.0),
            ]
            for sid, kind, t, w in topics:
                c.execute(
                    text(
                        "INSERT INTO topics (subscriber_id, kind, text, weight) "
                        "VALUES (:s, :k, :t, :w)"
                    ),
                    {"s": sid, "k": kind, "t": t, "w": w},
                )
        migrations.upgrade(database_url)
        with engine.connect() as c:
            interests = c.execute(
                text("SELECT subscriber_id, name, position FROM interests ORDER BY subscriber_id")
            ).all()
            assert [tuple(r) for r in interests] == [
                (1, "reinforcement learning, cs.CL", 0),
                (2, "x" * 50 + "…", 0),
            ]
            moved = c.execute(
                text(
                    "SELECT t.subscriber_id, t.kind, t.text, t.weight FROM topics t "
                    "JOIN interests i ON i.id = t.interest_id AND i.subscriber_id = t.subscriber_id "
                    "ORDER BY t.id"
                )
            ).all()
            assert [tuple(r) for r in moved] == topics
        migrations.downgrade(database_url, "0009")
        with engine.connect() as c:
            back = c.execute(
                text("SELECT subscriber_id, kind, text, weight FROM topics ORDER BY id")
            ).all()
            assert [tuple(r) for r in back] == topics
            assert "interests" not in inspect(engine).get_table_names()
        migrations.upgrade(database_url)
    finally:
        engine.dispose()


def test_next_due_migration_makes_every_active_subscriber_due(database_url: str) -> None:
    """0010 back-fills: active subscribers are due at the next tick (which works out their real
    next digest, catch-up included), the others never due; downgrade drops the column."""
    import datetime as dt

    from sqlalchemy import select, text

    from service.storage.engine import make_session_factory, session_scope
    from service.storage.models import DUE_NOW, Subscriber

    engine = make_engine(database_url)
    try:
        migrations.upgrade(database_url, "0009")
        with engine.begin() as connection:
            for email, status in (("ada@example.org", "active"), ("bob@example.org", "paused")):
                connection.execute(
                    text(
                        "INSERT INTO subscribers (email, status, timezone, delivery_hour, cadence,"
                        " max_papers, skip_empty, created_at, soft_bounces) VALUES (:e, :s, 'UTC', 8,"
                        " 'daily', 10, false, :t, 0)"
                    ),
                    {"e": email, "s": status, "t": dt.datetime(2025, 1, 1)},
                )
        migrations.upgrade(database_url, "0010")
        with session_scope(make_session_factory(engine)) as session:
            due = dict(session.execute(select(Subscriber.email, Subscriber.next_due_at)).all())
        assert due == {"ada@example.org": DUE_NOW, "bob@example.org": None}
        migrations.downgrade(database_url, "0009")
        assert "next_due_at" not in {c["name"] for c in inspect(engine).get_columns("subscribers")}
    finally:
        engine.dispose()
