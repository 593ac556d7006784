"""Migrations: upgrade to the latest revision and tell whether a database is up to date."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from alembic import command
from service.errors import SchemaError
from service.resources import alembic_dir, alembic_ini


def alembic_config(database_url: str) -> Config:
    """Alembic's config pointing at the shipped migrations and at ``database_url``."""
    config = Config(str(alembic_ini()))
    config.set_main_option("script_location", str(alembic_dir()))
    # Escape % for configparser interpolation (URL-encoded passwords contain it).
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every migration up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def require_current(engine: Engine, database_url: str) -> None:
    """Raise SchemaError unless the database is at the latest migration."""
    current, head = current_revision(engine), head_revision(database_url)
    if current != head:
        raise SchemaError(
            f"database schema is at {current or 'nothing (empty database)'}, the code needs {head}: "
            "run `paperboy db upgrade` or start with `--migrate`"
        )
