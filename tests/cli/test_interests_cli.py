"""`paperboy interests`: add, list, rename, move and remove a subscriber's interests; the preview
names each pick's interest; bad input is refused with a clear message and exit code 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from service.cli.main import cli


@pytest.fixture
def run(tmp_path: Path, migrate: Callable[[str], None]):  # type: ignore[no-untyped-def]
    env = {"PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'interests.db'}"}
    runner = CliRunner()

    def paperboy(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    migrate(env["PAPERBOY_DATABASE_URL"])
    paperboy("ingest", "--sample")
    paperboy("subscribers", "add", "ada@example.org", "--topic", "reasoning", "--max", "6")
    return paperboy


def test_interests_from_the_command_line(run) -> None:  # type: ignore[no-untyped-def]
    (only,) = json.loads(run("interests", "list", "ada@example.org", "--json").output)
    assert only["name"] == "reasoning"  # subscribers add made one interest of its topics
    picks = json.loads(run("preview", "ada@example.org", "--json").output)["papers"]
    assert {p["interest"] for p in picks} == {"reasoning"}

    out = run(
        "interests", "add", "ada@example.org", "Motion", "--topic", "motion", "--exclude",
        "survey", "--share", "0.5",
    ).output  # fmt: skip
    assert "added interest 'Motion'" in out and "2 topics" in out
    assert run("interests", "list", "ada@example.org").output.splitlines() == [
        "1. reasoning: reasoning",
        "2. Motion (share 0.5): motion, exclude:survey",
    ]
    picks = json.loads(run("preview", "ada@example.org", "--json").output)["papers"]
    assert [p["interest"] for p in picks] == ["reasoning"] * 3 + ["Motion"] * 3
    assert all(p["reasons"][0] == f"for {p['interest']}" for p in picks)

    assert (
        "already an interest" in run("interests", "add", "ada@example.org", "motion", code=2).output
    )
    assert "share" in run("interests", "add", "ada@example.org", "X", "--share", "3", code=2).output
    assert (
        "no interest 'nope'" in run("interests", "remove", "ada@example.org", "nope", code=2).output
    )
    assert "no subscriber" in run("interests", "list", "bob@example.org", code=2).output

    run("interests", "rename", "ada@example.org", "motion", "Movement")
    run("interests", "move", "ada@example.org", "Movement", "up")
    assert [r["name"] for r in json.loads(run("interests", "list", "ada@example.org", "--json").output)] == [
        "Movement", "reasoning",
    ]  # fmt: skip
    run("interests", "remove", "ada@example.org", "reasoning")
    (left,) = json.loads(run("interests", "list", "ada@example.org", "--json").output)
    assert left["name"] == "Movement" and left["position"] == 1
    subscriber = json.loads(run("subscribers", "list", "--json").output)[0]
    assert [t["text"] for t in subscriber["topics"]] == ["motion", "survey"]
