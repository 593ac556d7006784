"""Database fixtures: settings on a temporary folder and a migrated database on SQLite or
PostgreSQL (every test that asks for `database_url` runs on both).

Migrations run once per session and database kind: a test's migrated database is a copy of a
migrated template (a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from service.delivery.runtime import Runtime
from service.settings import Settings, load_settings
from service.storage import migrations


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file in the test's folder, or a new PostgreSQL database
    (dropped after the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperboy.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        outbox_dir=tmp_path / "outbox",
        listing_dir=tmp_path / "listings",
        secret_key="test-secret-key-0123456789",
        base_url="https://paperboy.example.org",
        from_address="Paperboy <digest@paperboy.example.org>",
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the latest migration, made once per session."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrate(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``migrate(database_url)``: make that (unused) database a fresh migrated one, as
    `paperboy db upgrade` would, from the session's template."""

    def migrate(database_url: str) -> None:
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            template: Path = request.getfixturevalue("sqlite_template")
            Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
            with (
                closing(sqlite3.connect(template)) as source,
                closing(sqlite3.connect(str(url.database))) as target,
            ):
                source.backup(target)
        else:
            request.getfixturevalue("postgres_server").migrate_database(database_url)

    return migrate


@pytest.fixture
def runtime(settings: Settings, migrate: Callable[[str], None]) -> Iterator[Runtime]:
    migrate(settings.database_url)
    runtime = Runtime(settings)
    yield runtime
    runtime.engine.dispose()
