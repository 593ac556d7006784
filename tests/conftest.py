"""The suite's fixtures, one module per concern in tests/support/ (loaded below), plus the test
data in tests/data and a clean environment for every test.

The tests mirror the packages of `service/`: tests/ledger/ tests ledger/, tests/web/ the web
front, and so on; tests/support/ holds the fixtures and helpers, tests/support/requirements.py
the one skip policy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import DATA
from tests.support.requirements import need

pytest_plugins = [
    "tests.support.database",
    "tests.support.smtp_sink",
    "tests.support.pg_server",
    "tests.support.browser",
    "tests.support.web_helpers",
    "tests.support.http_replay",
]

TEST_DATA = DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """tests/data: seed pages, recorded source responses, bounce reports (see tests/data/SOURCES.md)."""
    if not TEST_DATA.is_dir():
        need("test data", f"{TEST_DATA} is missing: the test data is part of the repository")
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
