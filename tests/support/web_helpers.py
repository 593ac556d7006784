"""Helpers for the web tests: a settable clock, the app on a TestClient, forms and the outbox."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.web.app import create_app

NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Clock:
    now: dt.datetime = NOW

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(runtime: Runtime, clock: Clock) -> TestClient:
    return TestClient(create_app(runtime, clock=clock), base_url="https://testserver")


@pytest.fixture
def papers(runtime: Runtime) -> None:
    ingest_file(
        runtime.factory,
        path=sample_listings_path(),
        source="sample",
        now=NOW - dt.timedelta(hours=2),
    )


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def form_token(client: TestClient, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def subscribe(
    client: TestClient, address: str, *, topics: tuple[str, ...] = ("segmentation",),
    follow_redirects: bool = True, **fields: str,
):  # type: ignore[no-untyped-def]  # fmt: skip
    data = {
        "email": address,
        "topic": list(topics),
        "timezone": "Europe/Berlin",
        "hour": "7",
        "cadence": "daily",
    }
    data.update(fields)
    data.setdefault("csrf_token", form_token(client))
    return client.post("/subscribe", data=data, follow_redirects=follow_redirects)


def outbox(runtime: Runtime) -> list[EmailMessage]:
    folder = Path(runtime.settings.outbox_dir)
    files = (
        sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.is_dir() else []
    )
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]  # type: ignore[misc]


def mails_to(runtime: Runtime, address: str) -> list[EmailMessage]:
    return [m for m in outbox(runtime) if m["To"] == address]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()


def link_path(message: EmailMessage, kind: str) -> str:
    """The path of the first /<kind>/... link in the message's text part."""
    found = re.search(rf"https?://[^/\s]+(/{kind}/\S+)", text_of(message))
    assert found, f"no /{kind}/ link in:\n{text_of(message)}"
    return found.group(1)


def press(client: TestClient, url: str) -> str:
    """Follow a link (a page, nothing changed) and press its button: POST the page's form to its
    own action, with CSRF. ``url`` is a full URL or a path, with its query."""
    parts = urlsplit(url)
    page = client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action, page.text
    done = client.post(html.unescape(action.group(1)), data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200, done.text
    return done.text
