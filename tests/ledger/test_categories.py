"""arXiv categories for Hugging Face papers, looked up in the export API after each ingest.

The export API answer is the recorded one (tests/data/recorded/arxiv_api_query_testing.xml, ten
real entries); the Hugging Face day is made of items naming four of those papers by arXiv id,
plus one id the answer does not hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.ranking.index import RelevanceIndex
from service.ranking.rank import rank
from service.records import Topic
from service.sources import arxiv
from service.storage.engine import make_engine, make_session_factory, session_scope
from tests.ledger.test_http_sources import Paperboy, arxiv_clock, env, hf_pages, ledger  # noqa: F401
from tests.support.http_replay import FakeClock, ReplayServer, Reply, Request

IN_ANSWER = {
    "2202.12139": ("Testing Deep Learning Models: A First Comparative Study", ["cs.SE", "cs.LG"]),
    "2005.14124": ("Active Fuzzing for Testing and Securing Cyber-Physical Systems", ["cs.SE", "cs.CR", "cs.LG"]),
    "2204.08348": ("Automated Test Generation for REST APIs: No Time to Rest Yet", ["cs.SE"]),
    "1205.1866": ("Microcontroller Based Testing of Digital IP-Core", ["cs.AR"]),
}  # fmt: skip
MISSING = "2410.17243"  # not in the recorded answer


def hf_day() -> bytes:
    ids = [*IN_ANSWER, MISSING]
    items = [
        {
            "paper": {
                "id": arxiv_id,
                "title": IN_ANSWER.get(arxiv_id, ("Breaking the Memory Barrier", []))[0],
                "summary": "An abstract.",
                "authors": [{"name": "A. Author"}],
                "upvotes": 10 - n,
            },
            "publishedAt": "2025-01-02T00:00:00.000Z",
        }  # fmt: skip
        for n, arxiv_id in enumerate(ids)
    ]
    return json.dumps(items).encode()


def categories_of(database_url: str) -> dict[str, list[str]]:
    papers, _, _ = ledger(database_url)
    return {p.arxiv_id: list(p.categories) for p in papers.values()}


@pytest.fixture
def api(replay_server: ReplayServer, recorded_dir: Path) -> dict[str, Any]:
    """The export API: the recorded answer, or the status in state["status"]."""
    body = (recorded_dir / "arxiv_api_query_testing.xml").read_bytes()
    state: dict[str, Any] = {"status": 200}

    def handle(request: Request) -> Reply:
        return Reply(state["status"], body if state["status"] == 200 else b"unavailable")

    replay_server.routes["/api/query"] = handle
    replay_server.routes["/api/daily_papers"] = hf_pages(hf_day())
    return state


def test_hf_ingest_fills_categories_and_asks_again_for_the_missing(
    env: dict[str, str], replay_server: ReplayServer, api: dict[str, Any], database_url: str,  # noqa: F811
    arxiv_clock: FakeClock,  # noqa: F811
) -> None:  # fmt: skip
    paperboy = Paperboy(env)
    paperboy("db", "upgrade")
    report = paperboy.json("ingest", "--source", "hf_daily")
    assert report["new"] == 5 and report["status"] == "ok"
    found = categories_of(database_url)
    assert found == {**{k: v[1] for k, v in IN_ANSWER.items()}, MISSING: []}
    [lookup] = replay_server.requests_to("/api/query")
    assert sorted(lookup.query["id_list"].split(",")) == sorted([*IN_ANSWER, MISSING])
    # Only the categories changed: the paper is still a Hugging Face paper.
    papers, _, _ = ledger(database_url)
    assert {tuple(p.sources) for p in papers.values()} == {("hf_daily",)}

    # A category topic now finds Hugging Face papers.
    engine = make_engine(database_url)
    try:
        from service.storage import store

        with session_scope(make_session_factory(engine)) as session:
            pool = store.latest_papers(session, limit=50)
    finally:
        engine.dispose()
    picks = rank(RelevanceIndex(pool), topics=[Topic("category", "cs.CR")], floor=0.0)
    assert [p.paper.arxiv_id for p in picks] == ["2005.14124"]

    paperboy.json("ingest", "--source", "hf_daily")
    again = replay_server.requests_to("/api/query")[-1]
    assert again.query["id_list"] == MISSING  # the filled ones are not asked again


def test_a_failed_lookup_never_fails_the_ingest_and_is_retried(
    env: dict[str, str], replay_server: ReplayServer, api: dict[str, Any], database_url: str,  # noqa: F811
    arxiv_clock: FakeClock,  # noqa: F811
) -> None:  # fmt: skip
    paperboy = Paperboy(env)
    paperboy("db", "upgrade")
    api["status"] = 503
    result = paperboy("ingest", "--source", "hf_daily", "--json")
    report = json.loads(result.stdout)
    assert report["new"] == 5 and report["status"] == "ok" and "errors" not in report
    assert "categories_lookup_failed" in result.stderr
    assert set(map(tuple, categories_of(database_url).values())) == {()}

    api["status"] = 200
    paperboy.json("ingest", "--source", "hf_daily")
    assert categories_of(database_url)["2202.12139"] == ["cs.SE", "cs.LG"]


def test_fill_categories_command_for_stored_papers_in_batches(
    env: dict[str, str], replay_server: ReplayServer, api: dict[str, Any], database_url: str,  # noqa: F811
    arxiv_clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:  # fmt: skip
    paperboy = Paperboy(env)
    paperboy("db", "upgrade")
    saved = tmp_path / "day.json"
    saved.write_bytes(hf_day())
    paperboy.json("ingest", "--source", "hf_daily", "--file", str(saved))  # no look-up: a replay
    assert not replay_server.requests_to("/api/query")

    monkeypatch.setattr(arxiv, "MAX_ID_LIST", 2)
    summary = paperboy.json("ingest", "--source", "arxiv", "--fill-categories")
    assert summary == {
        "source": "arxiv", "categories_asked": 5, "categories_filled": 4, "categories_not_found": 1,
        "status": "ok",
    }  # fmt: skip
    lookups = replay_server.requests_to("/api/query")
    assert [len(r.query["id_list"].split(",")) for r in lookups] == [2, 2, 1]
    # One request at a time, 3 s apart, on the arXiv gate.
    assert len(arxiv_clock.sleeps) == 2 and all(
        s == pytest.approx(3.0, abs=0.5) for s in arxiv_clock.sleeps
    )
    assert categories_of(database_url)["1205.1866"] == ["cs.AR"]

    human = paperboy("ingest", "--source", "arxiv", "--fill-categories").output
    assert "asked 1, filled 0, not found 1" in human
    paperboy("ingest", "--fill-categories", code=2)
    paperboy("ingest", "--source", "hf_daily", "--fill-categories", code=2)
