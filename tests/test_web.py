"""The web front: landing page with papers, health check, unsubscribe links, security headers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service import store
from service.db import session_scope
from service.ingest import ingest_file
from service.resources import sample_listings_path
from service.runtime import Runtime
from service.web.app import create_app

NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime))


@pytest.fixture
def subscriber_id(runtime: Runtime) -> int:
    with session_scope(runtime.factory) as session:
        sub = store.add_subscriber(
            session, email="ada@example.org", status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=5, topics=[("keyword", "segmentation", 1.0)], now=NOW,
        )  # fmt: skip
        return sub.id


def status_of(runtime: Runtime, subscriber_id: int) -> str:
    with session_scope(runtime.factory) as session:
        sub = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
        assert sub is not None
        return sub.status


def test_landing_page_lists_the_latest_papers_escaped(runtime: Runtime, client: TestClient, tmp_path: Path) -> None:
    empty = client.get("/")
    assert empty.status_code == 200 and "No papers yet" in empty.text
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=NOW)
    hostile = tmp_path / "hostile.jsonl"
    # Upvoted, so that it is among the 30 most upvoted papers the page lists.
    hostile.write_text('{"title": "<script>alert(1)</script> Attention", "abstract": "x", "upvotes": 500}\n')
    ingest_file(runtime.factory, path=hostile, now=NOW + dt.timedelta(hours=1))
    page = client.get("/")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Attention" in page.text and "<script>alert" not in page.text
    assert page.text.count('<li class="paper">') == 30
    assert "120 papers" in page.text
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_unsubscribe_get_changes_nothing_post_is_one_click_and_idempotent(
    runtime: Runtime, client: TestClient, subscriber_id: int
) -> None:
    token = runtime.signer.make("unsubscribe", s=subscriber_id)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "<form" in page.text
    assert status_of(runtime, subscriber_id) == "active"
    for _ in range(2):  # RFC 8058: POST with the one-click body, no cookies, 200, idempotent
        done = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert done.status_code == 200 and "set-cookie" not in done.headers and "location" not in done.headers
    assert status_of(runtime, subscriber_id) == "unsubscribed"


def test_forged_or_wrong_purpose_tokens_are_refused(runtime: Runtime, client: TestClient, subscriber_id: int) -> None:
    manage_token = runtime.signer.make("manage", s=subscriber_id)
    assert client.post(f"/unsubscribe/{manage_token}").status_code == 400
    assert client.get("/unsubscribe/not-a-token").status_code == 400
    assert status_of(runtime, subscriber_id) == "active"
