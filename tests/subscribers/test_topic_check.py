"""Topics that matched no paper in the last 14 days: one store query, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from service.cli.main import cli
from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.records import Topic
from service.storage.engine import session_scope
from service.subscribers.topic_check import quiet_topics

NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
RECENT = {
    "title": "Neural solvers for Schrödinger equations", "abstract": "We segment 3% of scenes.",
    "authors": ["Ayşe Kadıoğlu", "Yann LeCun"], "categories": ["cs.CV", "cs.LG"], "arxiv_id": "2508.00001",
}  # fmt: skip
OLD = {
    "title": "A galaxy survey", "abstract": "Stars.", "authors": ["Paul Erdős"],
    "categories": ["astro-ph.GA"], "arxiv_id": "2507.00001",
}  # fmt: skip


def ingest(runtime: Runtime, tmp_path: Path, paper: dict[str, object], when: dt.datetime) -> None:
    path = tmp_path / f"{paper['arxiv_id']}.jsonl"
    path.write_text(json.dumps(paper) + "\n")
    ingest_file(runtime.factory, path=path, now=when)


def quiet(runtime: Runtime, *topics: tuple[str, str]) -> list[tuple[str, str]]:
    with session_scope(runtime.factory) as session:
        found = quiet_topics(session, topics=[Topic(k, t) for k, t in topics], now=NOW)
    return [(t.kind, t.text) for t in found]


def test_quiet_topics_by_kind(runtime: Runtime, tmp_path: Path) -> None:
    assert quiet(runtime, ("category", "cs.XX")) == []  # no recent paper at all: nothing to say
    ingest(runtime, tmp_path, RECENT, NOW - dt.timedelta(days=2))
    ingest(runtime, tmp_path, OLD, NOW - dt.timedelta(days=40))
    topics = [
        ("category", "cs.CV"), ("category", "CS.lg"), ("category", "astro-ph.GA"), ("category", "cs.XX"),
        ("author", "Y. LeCun"), ("author", "Kadıoğlu"), ("author", "A. Kadıoğlu"), ("author", "Erdős"),
        ("keyword", "Schrödinger equation"), ("keyword", "segmentation"), ("keyword", "galaxy survey"),
        ("keyword", "100%_sure"), ("keyword", "the of and"), ("exclude", "nothing like this"),
    ]  # fmt: skip
    assert quiet(runtime, *topics) == [
        ("category", "astro-ph.GA"),  # only an old paper had it
        ("category", "cs.XX"),
        ("author", "Erdős"),
        ("keyword", "galaxy survey"),
        ("keyword", "100%_sure"),  # LIKE wildcards in a topic are taken literally
    ]


def test_subscribers_add_warns_about_quiet_topics(
    runtime: Runtime, tmp_path: Path, database_url: str
) -> None:
    ingest(runtime, tmp_path, RECENT, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    result = CliRunner().invoke(
        cli,
        ["subscribers", "add", "ada@example.org", "--topic", "category:cs.CV", "--topic", "category:cs.XX",
         "--topic", "Schrödinger equation", "--topic", "author:Nobody Known"],
        env={"PAPERBOY_DATABASE_URL": database_url},
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "added ada@example.org" in result.stdout and "warning" not in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        'warning: topic "category:cs.XX" matched no paper in the last 14 days',
        'warning: topic "author:Nobody Known" matched no paper in the last 14 days',
    ]
