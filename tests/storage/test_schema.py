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
