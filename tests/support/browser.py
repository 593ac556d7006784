"""A real headless Chromium for tests (Debian's `chromium`, driven by Playwright).

One browser per test session (each test opens its own context). A missing browser follows the
suite's skip policy (tests/support/requirements.py): skipped locally, a failure in CI.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.support.requirements import need

# Without the background-networking flags Chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        need("chromium", "the browser is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
