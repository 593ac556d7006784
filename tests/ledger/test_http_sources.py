"""The HTTP sources end to end: `paperboy ingest` against a local server replaying real responses.

Hugging Face Daily Papers and arXiv's feed and export API are served from 127.0.0.1 with the
recorded responses in tests/data/recorded; the URL settings point at that server. The arXiv gate
gets an injected clock, so the 3-second spacing costs no test time.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from service.cli.main import cli
from service.ledger.source_runs import ingest_hf_day, ingest_sources
from service.sources import http
from service.sources.http import Fetcher, Gate
from service.storage import store
from service.storage.engine import make_engine, make_session_factory, session_scope
from service.storage.models import IngestRun, Paper, Sighting
from tests.support.http_replay import FakeClock, ReplayServer, Reply, Request, sequence
from tests.support.paths import DATA

FEED_PATH = "/rss/cs.LG+cs.CL"
TITLE_ONLY = "Mitigating Easy Option Bias in Multiple-Choice Question Answering"


def hf_pages(body: bytes) -> Any:
    """Serve a recorded daily_papers list page by page, as the API does with p and limit."""
    items = json.loads(body)

    def handle(request: Request) -> Reply:
        page, limit = int(request.query.get("p", "0")), int(request.query.get("limit", "50"))
        chunk = items[page * limit : (page + 1) * limit]
        return Reply(200, json.dumps(chunk).encode(), {"Content-Type": "application/json"})

    return handle


def feed_with_etag(state: dict[str, bytes]) -> Any:
    """Serve state["feed"] with an ETag of its content; 304 when the client already has it."""

    def handle(request: Request) -> Reply:
        body = state["feed"]
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})

    return handle


class Paperboy:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, (
            f"paperboy {' '.join(args)} → {result.exit_code}\n{result.output}"
        )
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)


@pytest.fixture
def arxiv_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The process-wide arXiv gate, on a clock that moves only when the gate sleeps."""
    clock = FakeClock()
    gate = Gate(3.0, clock=clock.clock, sleep=clock.sleep)
    monkeypatch.setattr(http, "process_gate", lambda name, interval: gate)
    return clock


@pytest.fixture
def env(database_url: str, tmp_path: Path, replay_server: ReplayServer) -> dict[str, str]:
    listings = tmp_path / "listings"
    listings.mkdir()
    return {
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_LISTING_DIR": str(listings),
        "PAPERBOY_SOURCES": "files,hf_daily,arxiv",
        "PAPERBOY_HF_API_URL": f"{replay_server.url}/api",
        "PAPERBOY_ARXIV_RSS_URL": replay_server.url,
        "PAPERBOY_ARXIV_API_URL": f"{replay_server.url}/api",
        "PAPERBOY_HF_PAGE_SIZE": "5",
        "PAPERBOY_HTTP_BACKOFF_SECONDS": "0",
        "PAPERBOY_HTTP_MAX_ATTEMPTS": "2",
        "PAPERBOY_CONTACT": "ops@paperboy.example.org",
    }


def ledger(database_url: str) -> tuple[dict[str, Paper], list[Sighting], list[IngestRun]]:
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            papers = {p.key: p for p in session.scalars(select(Paper))}
            sightings = list(session.scalars(select(Sighting).order_by(Sighting.id)))
            runs = list(session.scalars(select(IngestRun).order_by(IngestRun.id)))
            session.expunge_all()
        return papers, sightings, runs
    finally:
        engine.dispose()


def by_source(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["source"]: r for r in reports}


def test_done_when(
    env: dict[str, str],
    replay_server: ReplayServer,
    recorded_dir: Path,
    arxiv_clock: FakeClock,
    database_url: str,
) -> None:
    hf_body = (recorded_dir / "hf_daily_papers_2025-08-20.json").read_bytes()
    replay_server.routes["/api/daily_papers"] = hf_pages(hf_body)
    feed = {"feed": (recorded_dir / "arxiv_atom_cs.AI_2025-08-20.xml").read_bytes()}
    replay_server.routes[FEED_PATH] = feed_with_etag(feed)
    # A paper first known by its title only (a listing file), later named by the arXiv feed.
    Path(env["PAPERBOY_LISTING_DIR"], "page.jsonl").write_text(
        json.dumps({"title": TITLE_ONLY}) + "\n"
    )
    paperboy = Paperboy(env)
    paperboy("db", "upgrade")

    # 1. Every paper with its metadata; the title-keyed paper joins its arXiv id.
    first = by_source(paperboy.json("ingest"))
    assert first["file"]["new"] == 1
    assert (
        first["hf_daily"]["fetched"],
        first["hf_daily"]["new"],
        first["hf_daily"]["status"],
    ) == (14, 14, "ok")
    assert (first["arxiv"]["new"], first["arxiv"]["updated"]) == (6, 1)
    pages = replay_server.requests_to("/api/daily_papers")
    assert [r.query["p"] for r in pages] == ["0", "1", "2", "3"]  # 5 + 5 + 4, then the empty page
    assert {(r.query["limit"], r.query["sort"]) for r in pages} == {("5", "trending")}
    assert all(r.query["date"] == dt.datetime.now(dt.UTC).date().isoformat() for r in pages)
    assert "contact: ops@paperboy.example.org" in pages[0].headers["user-agent"]
    papers, sightings, _ = ledger(database_url)
    assert len(papers) == 21 and not any(key.startswith("title:") for key in papers)
    agents = papers["2508.13167"]
    assert (
        agents.title
        == "Chain-of-Agents: End-to-End Agent Foundation Models via Multi-Agent Distillation and Agentic RL"
    )
    assert "\n" not in agents.abstract and agents.ai_summary and agents.ai_keywords
    assert agents.upvotes is not None and agents.code_url and agents.authors[0] == "Weizhen Li"
    assert agents.abstract_url == "https://arxiv.org/abs/2508.13167"
    joined = papers["2508.13428"]
    assert joined.title == TITLE_ONLY and joined.sources == ["file", "arxiv"] and joined.categories
    align = papers["2508.13426"]
    assert align.arxiv_version == 1 and align.categories == ["cs.CL", "cs.AI"]
    hf_sightings = [s for s in sightings if s.source == "hf_daily"]
    assert sorted(s.position for s in hf_sightings) == list(range(1, 15))
    assert any(s.stars is not None for s in hf_sightings) and all(
        s.comments is not None for s in hf_sightings
    )

    # 2. A second run stores nothing new: HF unchanged, arXiv answers 304 to our ETag.
    second = by_source(paperboy.json("ingest"))
    assert "file" not in second  # the listing file did not change
    assert (
        second["hf_daily"]["new"],
        second["hf_daily"]["updated"],
        second["hf_daily"]["unchanged"],
    ) == (0, 0, 14)
    assert second["arxiv"]["status"] == "not_modified" and second["arxiv"]["fetched"] == 0
    assert replay_server.requests_to(FEED_PATH)[-1].headers["if-none-match"].startswith('"')
    papers2, sightings2, _ = ledger(database_url)
    assert len(papers2) == 21 and len(sightings2) == len(sightings)
    # The arXiv requests of the two runs (each run's category look-up for the Hugging Face
    # papers, then the feed) went through the gate, one at a time, 3 s apart on its clock.
    arxiv_requests = replay_server.requests_to(FEED_PATH) + replay_server.requests_to("/api/query")
    assert len(arxiv_requests) == 4
    assert arxiv_clock.sleeps == [pytest.approx(3.0)] * 3

    # 3. The next day's feed: a cross-list of a Hugging Face paper, a replacement, a replacement
    #    of an unknown paper, a new paper and a malformed item.
    feed["feed"] = (DATA / "arxiv_rss_cs_2025-08-21.xml").read_bytes()
    third = paperboy.json("ingest", "--source", "arxiv")
    assert (
        third["fetched"],
        third["new"],
        third["updated"],
        third["rejected"],
        third["skipped"],
    ) == (5, 1, 2, 1, 1)
    papers3, sightings3, _ = ledger(database_url)
    assert len(papers3) == 22 and "2401.00001" not in papers3
    revised = papers3["2508.13426"]
    assert revised.arxiv_version == 2 and revised.title.endswith("(revised)")
    assert revised.abstract.startswith("A revised abstract")
    assert revised.first_seen == align.first_seen  # updated, not announced again
    new_keys = {
        p.key for p in papers3.values() if p.first_seen > max(p.first_seen for p in papers.values())
    }
    assert new_keys == {"2508.15001"}
    same = papers3["2508.13167"]  # the same paper through two sources: one row, both sightings
    assert same.sources == ["hf_daily", "arxiv"] and "cs.CL" in same.categories
    assert {s.source for s in sightings3 if s.paper_id == same.id} == {"hf_daily", "arxiv"}
    assert sum(1 for p in papers3.values() if p.title.startswith("Chain-of-Agents")) == 1

    # 4. Hugging Face is down: its run fails, arXiv still runs, the command exits 1.
    replay_server.routes["/api/daily_papers"] = sequence(Reply(500, b"upstream error"))
    fourth = by_source(paperboy.json("ingest", code=1))
    assert (
        fourth["hf_daily"]["status"] == "failed" and "HTTP 500" in fourth["hf_daily"]["errors"][0]
    )
    assert fourth["arxiv"]["status"] == "not_modified" and "errors" not in fourth["arxiv"]
    _, _, runs = ledger(database_url)
    assert [r.status for r in runs if r.source == "hf_daily"] == ["ok", "ok", "failed"]
    assert "HTTP 500" in (runs[-2].error or "") or "HTTP 500" in (runs[-1].error or "")

    # 5. A saved response replays through the same parser as the live fetch: nothing new.
    replay = paperboy.json(
        "ingest",
        "--source",
        "hf_daily",
        "--file",
        str(recorded_dir / "hf_daily_papers_2025-08-20.json"),
    )
    assert (replay["source"], replay["new"], replay["fetched"]) == ("hf_daily", 0, 14)


def test_truncated_page_fails_the_day_and_writes_nothing(
    runtime: Any, replay_server: ReplayServer, recorded_dir: Path
) -> None:
    body = (recorded_dir / "hf_daily_papers_2025-08-20.json").read_bytes()
    pages = hf_pages(body)

    def handle(request: Request) -> Reply:
        reply = pages(request)
        if request.query["p"] == "1":
            return Reply(200, reply.body[: len(reply.body) // 2])  # complete transfer, cut document
        return reply

    replay_server.routes["/api/daily_papers"] = handle
    settings = runtime.settings.model_copy(
        update={"hf_api_url": f"{replay_server.url}/api", "hf_page_size": 5}
    )
    clock = FakeClock()
    with Fetcher(user_agent="t", clock=clock.clock, sleep=clock.sleep) as fetcher:
        reports = ingest_sources(
            runtime.factory, settings=settings, names=["hf_daily"], fetcher=fetcher
        )
    assert (
        reports[0].status == "failed"
        and "p=1" in reports[0].errors[0]
        and "invalid JSON" in reports[0].errors[0]
    )
    with session_scope(runtime.factory) as session:
        assert store.count_papers(session) == 0
        run = store.ingest_runs(session, source="hf_daily")[0]
        assert run.status == "failed" and "invalid JSON" in (run.error or "")
        assert store.http_validators(
            session,
            url=f"{replay_server.url}/api/daily_papers?date=2025-08-20&p=0&limit=5&sort=trending",
        ) == (None, None)


def test_a_malformed_item_is_rejected_with_its_position(
    runtime: Any, replay_server: ReplayServer, recorded_dir: Path
) -> None:
    items = json.loads((recorded_dir / "hf_daily_papers_2024-10-25.json").read_bytes())
    items[3] = {"paper": {"id": "2410.00001", "title": ""}}  # no title
    items[7] = "not an item"
    replay_server.routes["/api/daily_papers"] = hf_pages(json.dumps(items).encode())
    settings = runtime.settings.model_copy(
        update={"hf_api_url": f"{replay_server.url}/api", "hf_page_size": 10}
    )
    with Fetcher(user_agent="t") as fetcher:
        report = ingest_hf_day(
            runtime.factory, settings=settings, fetcher=fetcher, day=dt.date(2024, 10, 25)
        )
    assert (report.fetched, report.new, report.rejected) == (29, 27, 2)
    with session_scope(runtime.factory) as session:
        assert store.count_papers(session) == 27


def test_backfills_and_id_lookup(
    env: dict[str, str],
    replay_server: ReplayServer,
    recorded_dir: Path,
    arxiv_clock: FakeClock,
    database_url: str,
) -> None:
    hf = hf_pages((recorded_dir / "hf_daily_papers_2024-10-25.json").read_bytes())
    replay_server.routes["/api/daily_papers"] = hf
    api_body = (recorded_dir / "arxiv_api_query_testing.xml").read_bytes()
    empty_api = api_body[: api_body.index(b"<entry>")] + b"</feed>"

    def api(request: Request) -> Reply:
        return Reply(200, api_body if request.query.get("start", "0") == "0" else empty_api)

    replay_server.routes["/api/query"] = api
    paperboy = Paperboy(env)
    paperboy("db", "upgrade")

    days = paperboy.json(
        "ingest", "--source", "hf_daily", "--since", "2025-01-01", "--until", "2025-01-03"
    )
    assert [d["new"] for d in days] == [29, 0, 0] and all(d["status"] == "ok" for d in days)
    asked = sorted({r.query["date"] for r in replay_server.requests_to("/api/daily_papers")})
    assert asked == ["2025-01-01", "2025-01-02", "2025-01-03"]
    papers, _, _ = ledger(database_url)
    # History is seen on its own day, so it does not land in the next digest as news.
    assert {p.first_seen for p in papers.values()} == {
        dt.datetime(2025, 1, 1, 23, 59, tzinfo=dt.UTC)
    }

    backfill = paperboy.json(
        "ingest", "--source", "arxiv", "--since", "2022-01-01", "--until", "2024-12-31"
    )
    assert [page["new"] for page in backfill] == [10, 0]  # one page, then the empty page ends it
    # The Hugging Face backfill ended with one look-up of its papers' arXiv categories.
    [categories] = [q for q in replay_server.requests_to("/api/query") if "id_list" in q.query]
    assert len(categories.query["id_list"].split(",")) == len({p.arxiv_id for p in papers.values()})
    queries = [q for q in replay_server.requests_to("/api/query") if "search_query" in q.query]
    assert "cat:cs.LG OR cat:cs.CL" in queries[0].query["search_query"]
    assert "submittedDate:[202201010000 TO 202412312359]" in queries[0].query["search_query"]
    assert [q.query["start"] for q in queries] == ["0", "10"]

    lookup = paperboy.json("ingest", "--source", "arxiv", "--id", "oai:arXiv.org:2202.12139v1")
    assert (
        lookup["unchanged"] == 10
        and replay_server.requests_to("/api/query")[-1].query["id_list"] == "2202.12139"
    )
    # Every arXiv request after the first waited its 3 s on the gate's clock, and no test time.
    assert arxiv_clock.sleeps and all(s == pytest.approx(3.0, abs=0.5) for s in arxiv_clock.sleeps)

    paperboy("ingest", "--source", "files", "--since", "2025-01-01", code=2)
    paperboy("ingest", "--source", "arxiv", "--id", "not-an-id", code=2)


def test_a_quiet_arxiv_day_says_so_in_the_digest(env: dict[str, str], tmp_path: Path) -> None:
    paperboy = Paperboy(env | {"PAPERBOY_ARXIV_HOLIDAYS": "2025-12-25"})
    paperboy("db", "upgrade")
    paperboy("subscribers", "add", "ada@example.org", "--topic", "segmentation")
    for day, note in [
        (
            "2025-08-23",
            "No new arXiv papers today: arXiv makes no announcement on Friday evenings, so there is no Saturday listing.",
        ),
        (
            "2025-12-25",
            "No new arXiv papers today: arXiv makes no announcement for this day (holiday schedule).",
        ),
        # A Thursday: arXiv announced, yet nothing came (the ledger is empty): which source,
        # and that the next digest catches up.
        (
            "2025-08-21",
            "No new papers came from arXiv today, though its calendar expected some: your next digest will catch up on them.",
        ),
    ]:
        out, eml = tmp_path / f"{day}.html", tmp_path / f"{day}.eml"
        paperboy("preview", "ada@example.org", "--date", day, "--out", str(out), "--eml", str(eml))
        html = out.read_text()
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        text = " ".join(message.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
        assert note in html and note in text and "Your next digest will come" in html
        assert "No new papers were announced today" in html  # not "none matched your topics"
    quiet = Paperboy(env | {"PAPERBOY_SOURCES": "files,hf_daily"})
    out = tmp_path / "no-arxiv.html"
    quiet("preview", "ada@example.org", "--date", "2025-08-23", "--out", str(out))
    assert "arXiv" not in out.read_text()


def test_scheduler_tick_runs_every_enabled_source(
    runtime: Any, replay_server: ReplayServer, recorded_dir: Path, arxiv_clock: FakeClock
) -> None:
    from service.delivery.scheduler import ingest_tick

    replay_server.routes["/api/daily_papers"] = hf_pages(
        (recorded_dir / "hf_daily_papers_2025-08-20.json").read_bytes()
    )
    replay_server.routes[FEED_PATH] = sequence(Reply(503, b"down for maintenance"))
    runtime.settings = runtime.settings.model_copy(
        update={
            "sources": "files,hf_daily,arxiv", "hf_api_url": f"{replay_server.url}/api",
            "arxiv_rss_url": replay_server.url, "http_backoff_seconds": 0.0, "http_max_attempts": 2,
        }
    )  # fmt: skip
    ingest_tick(runtime)
    with session_scope(runtime.factory) as session:
        assert store.count_papers(session) == 14
        runs = {run.source: run for run in store.ingest_runs(session)}
    assert runs["hf_daily"].status == "ok" and runs["arxiv"].status == "failed"
    assert "HTTP 503" in (runs["arxiv"].error or "")
    assert (
        len(replay_server.requests_to(FEED_PATH)) == 2
    )  # retried once, then left to the next tick


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PAPERBOY_SOURCES", "files,hf", "unknown source"),
        ("PAPERBOY_ARXIV_CATEGORIES", "cs.LG;cs.CL", "arXiv categories"),
        ("PAPERBOY_ARXIV_HOLIDAYS", "2025-12-25,Christmas", "not a date"),
        ("PAPERBOY_HF_API_URL", "huggingface.co/api", "http"),
        ("PAPERBOY_ARXIV_INTERVAL_SECONDS", "1", "greater than or equal to 3"),
    ],
)
def test_source_settings_are_validated(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    from service.errors import ConfigError
    from service.settings import load_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name) as info:
        load_settings()
    assert message in str(info.value)
