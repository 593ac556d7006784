"""Alembic environment: the URL comes from the config set by service.storage.migrations, else settings."""

from __future__ import annotations

from alembic import context
from service.storage.engine import make_engine
from service.storage.models import Base

config = context.config
if not config.get_main_option("sqlalchemy.url"):
    from service.settings import get_settings

    config.set_main_option("sqlalchemy.url", get_settings().database_url.replace("%", "%%"))

target_metadata = Base.metadata


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
        # Batch mode lets later migrations alter SQLite tables (copy-and-move).
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
