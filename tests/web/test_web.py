"""The web front: landing page with papers, health check, unsubscribe links, security headers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope
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


def test_landing_page_lists_the_latest_papers_escaped(
    runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    empty = client.get("/")
    assert empty.status_code == 200 and "No papers yet" in empty.text
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=NOW)
    hostile = tmp_path / "hostile.jsonl"
    # Upvoted, so that it is among the 30 most upvoted papers the page lists.
    hostile.write_text(
        '{"title": "<script>alert(1)</script> Attention", "abstract": "x", "upvotes": 500}\n'
    )
    ingest_file(runtime.factory, path=hostile, now=NOW + dt.timedelta(hours=1))
    page = client.get("/")
    assert page.status_code == 200
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; Attention" in page.text
        and "<script>alert" not in page.text
    )
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
        done = client.post(
            f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}, follow_redirects=False
        )
        assert (
            done.status_code == 200
            and "set-cookie" not in done.headers
            and "location" not in done.headers
        )
    assert status_of(runtime, subscriber_id) == "unsubscribed"


def test_forged_or_wrong_purpose_tokens_are_refused(
    runtime: Runtime, client: TestClient, subscriber_id: int
) -> None:
    manage_token = runtime.signer.make("manage", s=subscriber_id)
    assert client.post(f"/unsubscribe/{manage_token}").status_code == 400
    assert client.get("/unsubscribe/not-a-token").status_code == 400
    assert status_of(runtime, subscriber_id) == "active"


HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def assert_secured(response) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_unknown_urls_get_a_page_for_browsers_and_json_for_api_clients(client: TestClient) -> None:
    page = client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in page.text and 'class="brand" href="/"' in page.text
    assert "/static/style.css" in page.text
    assert_secured(page)
    api = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    assert_secured(api)
    wrong_method = client.delete("/", headers=HTML)
    assert wrong_method.status_code == 405 and "<h1>" in wrong_method.text
    assert "allow" in wrong_method.headers


def test_a_server_error_gets_a_branded_page_with_the_security_headers(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    with runtime.engine.begin() as connection:  # a real failure: the papers table is gone
        connection.exec_driver_sql("ALTER TABLE papers RENAME TO papers_gone")
    page = client.get("/", headers=HTML)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Something went wrong</h1>" in page.text and "papers_gone" not in page.text
    assert "Traceback" not in page.text and 'class="brand"' in page.text
    assert_secured(page)
    api = client.get("/", headers={"Accept": "application/json"})
    assert api.status_code == 500 and api.json() == {"detail": "Internal Server Error"}
    assert_secured(api)
    assert "request_failed path=/" in caplog.text
