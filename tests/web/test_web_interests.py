"""Interests on the manage page: add, rename, reorder and remove (CSRF'd POST forms), topics
edited per interest, the preview in sections; the archive and a per-interest Atom feed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from service.delivery.runtime import Runtime
from service.storage import store
from service.storage.engine import session_scope
from tests.support.web_helpers import NOW, csrf_of
from tests.web.test_web_manage import form_of


@pytest.fixture
def sub_id(runtime: Runtime, papers: None) -> int:
    with session_scope(runtime.factory) as session:
        return store.add_subscriber(
            session, email="ada@example.org", status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=6, topics=[("keyword", "reasoning", 1.0)],
            now=NOW - dt.timedelta(days=30),
        ).id  # fmt: skip


def names(runtime: Runtime, sid: int) -> list[tuple[str, list[str]]]:
    with session_scope(runtime.factory) as session:
        return [
            (i.name, [t.text for t in i.topics])
            for i in store.list_interests(session, subscriber_id=sid)
        ]


def sections(html: str) -> list[str]:
    return re.findall(r'<h3 class="preview-section">([^<]+)</h3>', html)


def test_interests_are_added_edited_moved_and_removed_on_the_manage_page(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text
    assert "Your interests" in page and sections(page) == []  # one interest: no sections
    url = f"/manage/{token}/interests"
    assert client.post(url, data={"action": "add", "name": "Motion"}).status_code == 403  # no CSRF
    added = client.post(url, data={"action": "add", "name": "Motion", "csrf_token": csrf_of(page)})
    assert added.status_code == 200 and "Topics of “Motion”" in added.text  # opened on it
    assert names(runtime, sub_id) == [("reasoning", ["reasoning"]), ("Motion", [])]

    saved = client.post(
        f"/manage/{token}",
        data=form_of(added.text, text=["motion"], kind=["keyword"], weight=["1"])
        | {
            "interest": re.search(
                r'id="edited-interest" name="interest" value="(\d+)"', added.text
            ).group(1)
        },  # type: ignore[union-attr]
    )
    assert saved.status_code == 200 and "Saved" in saved.text
    assert names(runtime, sub_id) == [("reasoning", ["reasoning"]), ("Motion", ["motion"])]
    assert sections(saved.text) == ["reasoning", "Motion"]

    csrf = csrf_of(saved.text)
    assert 'aria-label="Move reasoning down"' in saved.text
    first = store_id(runtime, sub_id, "reasoning")
    client.post(url, data={"action": "down", "interest": first, "csrf_token": csrf})
    assert [n for n, _ in names(runtime, sub_id)] == ["Motion", "reasoning"]
    motion_id = store_id(runtime, sub_id, "Motion")
    bad = client.post(
        url,
        data={"action": "rename", "interest": motion_id, "name": "reasoning", "csrf_token": csrf},
    )
    assert bad.status_code == 400 and "already an interest" in bad.text
    client.post(
        url,
        data={"action": "rename", "interest": motion_id, "name": "Movement", "csrf_token": csrf},
    )
    page = client.get(f"/manage/{token}").text
    assert sections(page) == ["Movement", "reasoning"]

    # The archive and the feed of one interest, after a digest went out.
    with session_scope(runtime.factory) as session:
        p1, p2 = store.find_paper_ids(session, arxiv_id="2410.18977") + store.find_paper_ids(
            session, arxiv_id="2410.18693"
        )
        delivery = store.create_delivery(
            session, subscriber_id=sub_id, digest_date=NOW.date(), now=NOW,
            items=[(p1, 0.9, ["for Movement"], "Movement"), (p2, 0.8, ["for reasoning"], "reasoning")],
        )  # fmt: skip
        assert delivery is not None
        store.finish_delivery(session, delivery_id=delivery.id, status="sent", now=NOW)
    archive = client.get(f"/archive/{token}").text
    assert sections(archive) == ["Movement", "reasoning"]
    feeds = re.findall(r'<a href="(/feed/[^"]+\.atom)">feed</a>', page)
    assert len(feeds) == 2  # one per interest, in their order: Movement first
    atom = client.get(feeds[0]).text
    assert "Your Paperboy digests: Movement" in atom and "MotionCLR" in atom
    assert "Unleashing Reasoning" not in atom
    whole = client.get(f"/feed/{runtime.signer.make('feed', s=sub_id)}.atom").text
    assert "&lt;h3&gt;Movement&lt;/h3&gt;" in whole and "Unleashing Reasoning" in whole
    other = runtime.signer.make("feed", s=sub_id, i=motion_id + 100)
    assert client.get(f"/feed/{other}.atom").status_code == 400

    client.post(url, data={"action": "remove", "interest": motion_id, "csrf_token": csrf})
    assert names(runtime, sub_id) == [("reasoning", ["reasoning"])]
    with session_scope(runtime.factory) as session:
        sub = store.get_subscriber_by_id(session, subscriber_id=sub_id)
        assert [t.text for t in sub.topics] == ["reasoning"]


def store_id(runtime: Runtime, sid: int, name: str) -> int:
    with session_scope(runtime.factory) as session:
        interest = store.get_interest(session, subscriber_id=sid, name=name)
        assert interest is not None
        return interest.id
