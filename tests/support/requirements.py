"""The suite's one skip policy: every test that cannot run here says so through `need`.

- A real server or program the tests drive (PostgreSQL's binaries, Chromium, SpamAssassin, a
  container engine) is skipped on a developer's machine that lacks it, and is a failure with
  PAPERBOY_TEST_REQUIRE_ALL=1 (as in CI, which installs them all).
- Missing test data is always a failure: tests/data is part of the repository.

No test calls ``pytest.skip``, ``pytest.importorskip`` or ``skipif`` itself (test_requirements.py
checks).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ALL = "PAPERBOY_TEST_REQUIRE_ALL"

# thing -> what becomes of a test when the thing is missing
POLICY = {
    "postgresql": "skip unless required",
    "chromium": "skip unless required",
    "spamassassin": "skip unless required",
    # Building the image and starting the stack (deploy/smoke.sh) needs root and podman; CI
    # (.ci/run) installs podman, buildah, runc and debootstrap with apt.
    "container engine": "skip unless required",
    "test data": "fail",
}


def required() -> bool:
    """True when every server and program must be present (CI)."""
    return os.environ.get(REQUIRE_ALL, "") not in ("", "0")


def need(thing: str, reason: str) -> NoReturn:
    """`thing` is missing here: skip or fail the test by the policy above, saying `reason`."""
    try:
        policy = POLICY[thing]
    except KeyError:
        raise ValueError(
            f"no skip policy for {thing!r}; add it to tests/support/requirements.py"
        ) from None
    message = f"{thing}: {reason}"
    if policy == "fail" or (policy == "skip unless required" and required()):
        pytest.fail(f"{message} ({REQUIRE_ALL}=1)" if policy != "fail" else message, pytrace=False)
    pytest.skip(message)
