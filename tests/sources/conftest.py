"""Locate the test inputs in tests/data (seed pages, recorded responses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.requirements import need

REPO_ROOT = REPO
TEST_DATA = REPO_ROOT / "tests" / "data"


def data_dir(name: str) -> Path:
    """Return tests/data/<name>; fail (never skip) if it is missing.

    A parser test that silently skips proves nothing, so missing test data is a failure.
    """
    candidate = TEST_DATA / name
    if not candidate.is_dir():
        need(
            "test data",
            f"tests/data/{name} not found in {REPO_ROOT}: the recorded test inputs are part of the repository",
        )
    return candidate


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return data_dir("seeds")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return data_dir("recorded")


@pytest.fixture(scope="session")
def seed_bytes(seeds_dir: Path):
    """Return a function giving the bytes of the seed page with a prefix such as "000"."""

    def read(prefix: str) -> bytes:
        pages = sorted(seeds_dir.glob(f"{prefix}_*.txt"))
        assert len(pages) == 1, f"expected one {prefix}_*.txt in {seeds_dir}, found {pages}"
        return pages[0].read_bytes()

    return read
