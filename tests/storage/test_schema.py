"""Migrations: up and down on both databases, and the models never drift from them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

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
