"""Locate the shared test inputs (seed pages, recorded responses) and this package's test data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_DATA = REPO_ROOT / "tests" / "data"


def shared_dir(name: str) -> Path:
    """Return shared/<name>, found by walking up from the repository root; fail if it is missing.

    The seeds and fixtures live beside the repository (../shared), not in it. A missing folder
    fails the test instead of skipping it: a parser test that silently skips proves nothing.
    """
    for folder in (REPO_ROOT, *REPO_ROOT.parents):
        candidate = folder / "shared" / name
        if candidate.is_dir():
            return candidate
    pytest.fail(
        f"shared/{name} not found in {REPO_ROOT} or any parent folder; these tests read the "
        f"recorded inputs from there (expected e.g. {REPO_ROOT.parent / 'shared' / name})"
    )


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return shared_dir("seeds")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return shared_dir("fixtures")


@pytest.fixture(scope="session")
def seed_bytes(seeds_dir: Path):
    """Return a function giving the bytes of the seed page with a prefix such as "000"."""

    def read(prefix: str) -> bytes:
        pages = sorted(seeds_dir.glob(f"{prefix}_*.txt"))
        assert len(pages) == 1, f"expected one {prefix}_*.txt in {seeds_dir}, found {pages}"
        return pages[0].read_bytes()

    return read
