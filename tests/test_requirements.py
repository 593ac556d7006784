"""The suite's one skip policy (tests/support/requirements.py): what a missing server, browser or test
data does to a test, and that no test skips any other way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import TESTS
from tests.support.requirements import REQUIRE_ALL, need


@pytest.mark.parametrize("thing", ["postgresql", "chromium", "container engine"])
def test_a_missing_server_or_browser_skips_locally_and_fails_in_ci(
    thing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_ALL, raising=False)
    with pytest.raises(pytest.skip.Exception, match=thing):
        need(thing, "not installed")
    monkeypatch.setenv(REQUIRE_ALL, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{thing}: not installed.*{REQUIRE_ALL}=1"):
        need(thing, "not installed")


def test_missing_test_data_always_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ALL, raising=False)
    with pytest.raises(pytest.fail.Exception, match="test data: gone"):
        need("test data", "gone")


def test_an_unknown_thing_has_no_policy() -> None:
    with pytest.raises(ValueError, match="no skip policy"):
        need("redis", "not installed")


def test_no_test_skips_except_through_need() -> None:
    own = {"requirements.py", Path(__file__).name}
    pattern = re.compile(r"pytest\.(skip|importorskip|xfail)\(|mark\.(skipif|skip|xfail)\b")
    offenders = [
        f"{path.relative_to(TESTS)}:{n}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in own
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == [], "skip through tests.support.requirements.need instead"
