"""Liked papers the ledger lacks, looked up in the export API by id and stored like any paper.

The export API answer is the recorded one (tests/data/recorded/arxiv_api_query_testing.xml, ten
real entries) whatever the id_list: only the ids asked for may be stored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from service.delivery.runtime import Runtime
from service.ledger.liked_lookup import resolve_liked
from service.sources.http import Fetcher
from service.storage.engine import session_scope
from service.storage.models import IngestRun, Paper
from tests.ledger.test_http_sources import arxiv_clock  # noqa: F401
from tests.support.http_replay import FakeClock, ReplayServer, Reply

NOW = dt.datetime(2025, 8, 21, 7, 0, tzinfo=dt.UTC)
LIKED = ["2202.12139", "2405.13786", "2005.14124", "2204.08348", "2302.03287"]
UNKNOWN = "2410.17243"  # a real-looking id the answer does not hold


def test_missing_liked_papers_are_fetched_once_and_an_unknown_id_is_not_stored(
    runtime: Runtime, replay_server: ReplayServer, recorded_dir: Path,
    arxiv_clock: FakeClock,  # noqa: F811
) -> None:  # fmt: skip
    body = (recorded_dir / "arxiv_api_query_testing.xml").read_bytes()
    state = {"status": 200}
    replay_server.routes["/api/query"] = lambda request: Reply(
        state["status"], body if state["status"] == 200 else b"down"
    )
    settings = runtime.settings.model_copy(
        update={"arxiv_api_url": f"{replay_server.url}/api", "semantic": "off",
                "http_max_attempts": 1, "http_backoff_seconds": 0}
    )  # fmt: skip
    fetcher = Fetcher.from_settings(settings)
    try:
        first = resolve_liked(
            runtime.factory, settings=settings, fetcher=fetcher, ids=[*LIKED, UNKNOWN], now=NOW
        )
        assert list(first.found) == LIKED and first.fetched == LIKED
        assert first.unknown == [UNKNOWN] and first.error is None
        [request] = replay_server.requests_to("/api/query")
        assert request.query["id_list"].split(",") == [*LIKED, UNKNOWN]
        with session_scope(runtime.factory) as session:
            stored = {p.key: p for p in session.scalars(select(Paper))}
            assert set(stored) == set(LIKED)  # not the other five papers of the answer
            # History, not news: first seen at the end of the oldest liked paper's day.
            assert {p.first_seen.replace(tzinfo=dt.UTC) for p in stored.values()} == {
                dt.datetime(2020, 5, 28, 23, 59, tzinfo=dt.UTC)
            }
            assert stored["2202.12139"].title.startswith("Testing Deep Learning Models")
            assert session.scalar(select(func.count()).select_from(IngestRun)) == 1

        # Stored ones are not asked again; a failed look-up reports its ids unknown.
        state["status"] = 503
        again = resolve_liked(
            runtime.factory, settings=settings, fetcher=fetcher, ids=[LIKED[0], UNKNOWN], now=NOW
        )
        assert list(again.found) == [LIKED[0]] and again.unknown == [UNKNOWN]
        assert again.fetched == [] and again.error and "503" in again.error
        assert replay_server.requests_to("/api/query")[-1].query["id_list"] == UNKNOWN
    finally:
        fetcher.close()
