"""Alembic environment: the URL comes from the config set by service.storage.migrations, else settings."""

from __future__ import annotations

from sqlalchemy import text

from alembic import context
from service.storage.engine import make_engine
from service.storage.models import Base

config = context.config
if not config.get_main_option("sqlalchemy.url"):
    from service.settings import get_settings

    config.set_main_option("sqlalchemy.url", get_settings().database_url.replace("%", "%%"))

target_metadata = Base.metadata

# Containers that start together each run `paperboy db upgrade`: on PostgreSQL the first takes
# this advisory lock and migrates, the others wait for it, then find the database at head.
MIGRATIONS_LOCK = 7250412


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # The same engine set-up as the app: creates a SQLite file's folder, same pragmas.
    connectable = make_engine(config.get_main_option("sqlalchemy.url"))
    with connectable.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode rebuilds a SQLite table (copy, drop, rename): with foreign keys on, the
            # drop would cascade into the rows that point at it (a subscriber's topics). Off for
            # the migration only; PRAGMA foreign_keys has no effect inside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        # Batch mode lets later migrations alter SQLite tables (copy-and-move).
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Held until this transaction ends: PostgreSQL runs every migration inside it.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATIONS_LOCK}
                )
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
