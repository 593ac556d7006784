"""Common fixtures: settings on a temporary folder, a migrated database on SQLite or
PostgreSQL, a real SMTP server, and the test data in tests/data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.runtime import Runtime
from service.settings import Settings, load_settings

pytest_plugins = ["tests.smtp_sink", "tests.pg_server", "tests.browser", "tests.web_helpers", "tests.http_replay"]

REPO = Path(__file__).resolve().parents[1]


TEST_DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def test_data() -> Path:
    """tests/data: seed pages, recorded source responses, bounce reports (see tests/data/SOURCES.md)."""
    assert TEST_DATA.is_dir(), f"{TEST_DATA} is missing: the test data is part of the repository"
    return TEST_DATA


@pytest.fixture(scope="session")
def seed_files(test_data: Path) -> list[Path]:
    files = sorted((test_data / "seeds").glob("*.txt"))
    assert [f.name[:3] for f in files] == ["000", "001", "002"], files
    return files


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's environment or .env file."""
    import os

    for name in list(os.environ):
        if name.startswith("PAPERBOY_") and name != "PAPERBOY_TEST_REQUIRE_ALL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'paperboy.db'}"
    return request.getfixturevalue("postgres_server").create_database()


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


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings)
    runtime.migrate()
    yield runtime
    runtime.engine.dispose()
