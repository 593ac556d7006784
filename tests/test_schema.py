"""Migrations: up and down on both databases, and the models never drift from them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from service import schema
from service.db import make_engine
from service.models import Base


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        schema.upgrade(database_url)
        assert schema.current_revision(engine) == schema.head_revision(database_url)
        assert "skip_empty" in {c["name"] for c in inspect(engine).get_columns("subscribers")}
        assert "vector" in {c["name"] for c in inspect(engine).get_columns("paper_embeddings")}
        schema.downgrade(database_url, "base")
        assert schema.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        schema.upgrade(database_url)
        schema.require_current(engine, database_url)
    finally:
        engine.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        schema.upgrade(database_url)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
