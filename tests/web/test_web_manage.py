"""The subscriber's own pages: manage (with preview, pause, resume, unsubscribe and its undo),
feedback, archive, the Atom feed, the whole-email preview, and /metrics."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time

from service.delivery.runtime import Runtime
from service.errors import SourceError
from service.ledger.ingest import ingest_file
from service.storage import store
from service.storage.engine import session_scope
from tests.cli.test_feedback_cli import TRENDING, hf_file
from tests.support.web_helpers import (
    NOW,
    csrf_of,
    form_token,
)

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def sub_id(runtime: Runtime, papers: None) -> int:
    with session_scope(runtime.factory) as session:
        return store.add_subscriber(
            session, email="ada@example.org", status="active", timezone="UTC", delivery_hour=8, cadence="daily",
            max_papers=5, topics=[("keyword", "segmentation", 1.0), ("keyword", "reinforcement learning", 2.0)],
            now=NOW - dt.timedelta(days=30),
        ).id  # fmt: skip


def load(runtime: Runtime, subscriber_id: int):  # type: ignore[no-untyped-def]
    with session_scope(runtime.factory) as session:
        sub = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
        session.expunge(sub)
        return sub


def preview_titles(html: str) -> list[str]:
    return re.findall(r'<span class="preview-title">([^<]+)</span>', html)


def form_of(page: str, **changes: object) -> dict[str, object]:
    """The manage form's fields as the page shows them, with changes."""
    rows = re.findall(r'name="text" value="([^"]*)"', page)
    kinds = re.findall(
        r'<select id="kind-\d+" name="kind">.*?<option value="(\w+)" selected', page, re.S
    )
    weights = re.findall(r'name="weight" type="number"[^>]*value="([^"]*)"', page)
    data: dict[str, object] = {
        "csrf_token": csrf_of(page), "text": rows, "kind": kinds, "weight": weights,
        "timezone": re.search(r'<select id="timezone".*?<option selected>([^<]+)<', page, re.S).group(1),  # type: ignore[union-attr]
        "hour": re.search(r'<select id="hour".*?<option value="(\d+)" selected', page, re.S).group(1),  # type: ignore[union-attr]
        "cadence": "weekly" if 'value="weekly" checked' in page else "daily",
        "max_papers": re.search(r'id="max_papers"[^>]*value="(\d+)"', page).group(1),  # type: ignore[union-attr]
        "action": "save",
    }  # fmt: skip
    data.update(changes)
    return data


def test_manage_page_shows_settings_and_the_next_digest(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert re.findall(r'name="text" value="([^"]*)"', page.text) == [
        "segmentation",
        "reinforcement learning",
        "",
        "",
        "",
    ]
    assert 'value="2"' in page.text  # the weight
    titles = preview_titles(page.text)
    assert 1 <= len(titles) <= 5
    assert "receiving digests" in page.text and 'value="pause"' in page.text
    for field_id in ("text-1", "kind-1", "weight-1", "hour", "timezone", "max_papers"):
        assert f'for="{field_id}"' in page.text


def test_preview_follows_unsaved_settings_and_save_stores_them(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text
    before = preview_titles(page)

    changed = form_of(page, action="preview", text=["segmentation", "reinforcement learning", "speech recognition"],
                      kind=["exclude", "keyword", "keyword"], weight=["1", "1", "3"], max_papers="3")  # fmt: skip
    preview = client.post(f"/manage/{token}", data=changed)
    assert preview.status_code == 200 and "not saved yet" in preview.text
    after = preview_titles(preview.text)
    assert after and after != before and len(after) <= 3
    assert not any("segment" in t.lower() for t in after)  # excluded now
    sub = load(runtime, sub_id)
    assert [(t.kind, t.text) for t in sub.topics] == [
        ("keyword", "segmentation"),
        ("keyword", "reinforcement learning"),
    ]

    # The page's script asks for the preview alone.
    fragment = client.post(f"/manage/{token}", data=changed, headers={"X-Paperboy-Fragment": "1"})
    assert (
        fragment.status_code == 200
        and "<html" not in fragment.text
        and preview_titles(fragment.text) == after
    )
    # The phone's summary bar says what the preview holds; the fragment carries its new words.
    assert f"<span data-preview-summary>{len(before)} papers match</span> — see preview" in page
    words = f"{len(after)} paper{'s match' if len(after) != 1 else ' matches'}"
    assert f'data-summary="{words}"' in fragment.text
    nothing = client.post(
        f"/manage/{token}",
        data=form_of(page, action="preview", text=["xx.YY"], kind=["category"],
                     trending_share="none", relevance_floor="strict"),
        headers={"X-Paperboy-Fragment": "1"},
    )  # fmt: skip
    assert 'data-summary="No new paper matches"' in nothing.text
    broken = client.post(
        f"/manage/{token}",
        data=form_of(page, action="preview", max_papers="0"),
        headers={"X-Paperboy-Fragment": "1"},
    )
    assert broken.status_code == 400 and 'data-summary="The settings need a fix"' in broken.text

    saved = client.post(f"/manage/{token}", data=form_of(
        preview.text, text=["segmentation", "reinforcement learning", "speech recognition", "category:cs.CL"],
        kind=["exclude", "keyword", "keyword", "keyword"], weight=["1", "1", "3", "1"], remove=["2"],
        max_papers="3", hour="6", timezone="Asia/Tokyo", cadence="weekly", skip_empty="1",
    ))  # fmt: skip
    assert saved.status_code == 200 and "Saved." in saved.text
    sub = load(runtime, sub_id)
    assert [(t.kind, t.text, t.weight) for t in sub.topics] == [
        ("exclude", "segmentation", 1.0), ("keyword", "speech recognition", 3.0), ("category", "cs.CL", 1.0),
    ]  # fmt: skip
    assert (sub.max_papers, sub.delivery_hour, sub.timezone, sub.cadence, sub.skip_empty) == (
        3,
        6,
        "Asia/Tokyo",
        "weekly",
        True,
    )


def test_bad_settings_are_named_and_nothing_is_saved(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text
    for changes, message in (
        ({"weight": ["9", "1", "1", "1", "1"]}, "topic 1: weight 9 must be above 0 and at most 5"),
        ({"weight": ["x", "1", "1", "1", "1"]}, "topic 1: weight &#39;x&#39; is not a number"),
        ({"max_papers": "0"}, "invalid number of papers 0"),
        ({"timezone": "Nowhere/City"}, "unknown time zone"),
        ({"hour": "24"}, "invalid delivery hour 24"),
        (
            {"kind": ["opinion", "keyword", "keyword", "keyword", "keyword"]},
            "topic 1: invalid topic kind",
        ),
    ):
        answer = client.post(f"/manage/{token}", data=form_of(page, **changes))
        assert answer.status_code == 400 and message in answer.text, (changes, answer.text[:2000])
    sub = load(runtime, sub_id)
    assert (sub.max_papers, sub.timezone, len(sub.topics)) == (5, "UTC", 2)


def test_pause_and_resume(runtime: Runtime, client: TestClient, sub_id: int) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    csrf = form_token(client, f"/manage/{token}")
    paused = client.post(f"/manage/{token}", data={"csrf_token": csrf, "action": "pause"})
    assert (
        paused.status_code == 200
        and "Paused" in paused.text
        and load(runtime, sub_id).status == "paused"
    )
    assert 'value="resume"' in paused.text
    client.post(f"/manage/{token}", data={"csrf_token": csrf, "action": "resume"})
    assert load(runtime, sub_id).status == "active"


def test_unsubscribe_from_the_manage_page_and_undo_it(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text
    assert 'value="unsubscribe"' in page
    no_csrf = client.post(f"/manage/{token}", data={"action": "unsubscribe"})
    assert no_csrf.status_code == 403
    assert load(runtime, sub_id).status == "active"
    left = client.post(
        f"/manage/{token}",
        data={"csrf_token": csrf_of(page), "action": "unsubscribe"},
        follow_redirects=False,
    )
    assert left.status_code == 303 and left.headers["location"].startswith("/unsubscribed/")
    assert load(runtime, sub_id).status == "unsubscribed"
    done = client.get(left.headers["location"])  # a reload of this page posts nothing
    assert done.status_code == 200 and "<h1>You are unsubscribed</h1>" in done.text
    assert '<a href="/">Subscribe again</a>' in done.text
    undo = re.search(r'<form method="post" action="(/unsubscribe/[^"]+/undo)">', done.text)
    assert undo and csrf_of(done.text)
    # The undo is a POST with the form's CSRF token; a forged or wrong-purpose link does nothing.
    assert client.post(undo.group(1), data={}).status_code == 403
    wrong = client.post(f"/unsubscribe/{token}/undo", data={"csrf_token": csrf_of(done.text)})
    assert wrong.status_code == 400
    assert load(runtime, sub_id).status == "unsubscribed"
    back = client.post(undo.group(1), data={"csrf_token": csrf_of(done.text)})
    assert back.status_code == 200 and "Welcome back" in back.text
    assert "receiving digests" in back.text
    sub = load(runtime, sub_id)
    assert sub.status == "active"
    assert [t.text for t in sub.topics] == ["segmentation", "reinforcement learning"]
    # Undone: the unsubscribed page now leads to the settings; the notice is never echoed input.
    assert "receiving digests" in client.get(left.headers["location"]).text
    assert "<b>" not in client.get(f"/manage/{token}?notice=<b>hi</b>").text


def test_the_undo_never_revives_a_bounced_or_complained_address(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    unsubscribe = runtime.signer.make("unsubscribe", s=sub_id)
    csrf = form_token(client, f"/manage/{runtime.signer.make('manage', s=sub_id)}")
    for status in ("complained", "bounced", "paused"):
        with session_scope(runtime.factory) as session:
            store.update_subscriber(session, subscriber_id=sub_id, status=status)
        client.post(f"/unsubscribe/{unsubscribe}/undo", data={"csrf_token": csrf})
        assert load(runtime, sub_id).status == status
    for status in ("complained", "bounced"):  # an old email's one-click keeps the status...
        with session_scope(runtime.factory) as session:
            store.update_subscriber(session, subscriber_id=sub_id, status=status)
        assert client.post(f"/unsubscribe/{unsubscribe}").status_code == 200
        client.post(f"/unsubscribe/{unsubscribe}/undo", data={"csrf_token": csrf})
        assert load(runtime, sub_id).status == status  # ...so the undo cannot revive it
    with session_scope(runtime.factory) as session:
        store.update_subscriber(session, subscriber_id=sub_id, status="paused")
    # The email's unsubscribe button lands on the same page, with the undo.
    page = client.post(f"/unsubscribe/{unsubscribe}", headers={"Accept": "text/html"})
    assert "You are unsubscribed" in page.text and "/undo" in page.text and csrf_of(page.text)


def test_manage_refuses_missing_csrf_and_bad_links(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text
    data = form_of(page, max_papers="9")
    data.pop("csrf_token")
    assert client.post(f"/manage/{token}", data=data).status_code == 403
    assert client.post(f"/manage/{token}", data={"action": "pause"}).status_code == 403
    assert load(runtime, sub_id).max_papers == 5 and load(runtime, sub_id).status == "active"
    with freeze_time(dt.datetime.now() - dt.timedelta(days=91)):
        old = runtime.signer.make("manage", s=sub_id)
    assert "expired" in client.get(f"/manage/{old}").text
    assert client.get(f"/manage/{token[:-4]}abcd").status_code == 400
    assert client.get(f"/manage/{runtime.signer.make('unsubscribe', s=sub_id)}").status_code == 400
    assert client.get(f"/manage/{runtime.signer.make('manage', s=9999)}").status_code == 400


def test_whole_email_preview_keeps_its_inline_styles_and_nothing_else(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    email = client.get(f"/preview/{token}")
    assert email.status_code == 200 and 'class="container"' in email.text and "style=" in email.text
    csp = email.headers["content-security-policy"]
    assert (
        "style-src 'unsafe-inline'" in csp and "default-src 'none'" in csp and "script" not in csp
    )


def paper_ids(runtime: Runtime, count: int) -> list[int]:
    with session_scope(runtime.factory) as session:
        return [c.paper_id for c in store.latest_papers(session, limit=count)]


def test_feedback_records_only_on_post(runtime: Runtime, client: TestClient, sub_id: int) -> None:
    paper = paper_ids(runtime, 1)[0]
    up = runtime.signer.make("feedback", s=sub_id, p=paper, v=1)
    page = client.get(f"/feedback/{up}")  # a link scanner's fetch records nothing
    assert (
        page.status_code == 200
        and "More like this?" in page.text
        and "data-autosubmit" in page.text
    )
    with session_scope(runtime.factory) as session:
        assert store.feedback_votes(session, subscriber_ids=[sub_id]) == {}
    assert client.post(f"/feedback/{up}", data={}).status_code == 403
    thanks = client.post(f"/feedback/{up}", data={"csrf_token": csrf_of(page.text)})
    assert (
        thanks.status_code == 200 and "Thanks!" in thanks.text and 'href="/manage/' in thanks.text
    )
    down = runtime.signer.make("feedback", s=sub_id, p=paper, v=-1)
    client.post(f"/feedback/{down}", data={"csrf_token": csrf_of(page.text)})
    with session_scope(runtime.factory) as session:
        assert store.feedback_votes(session, subscriber_ids=[sub_id]) == {sub_id: {paper: -1}}
    assert (
        client.get(
            f"/feedback/{runtime.signer.make('feedback', s=sub_id, p=paper, v=5)}"
        ).status_code
        == 400
    )
    assert client.get(f"/feedback/{runtime.signer.make('manage', s=sub_id)}").status_code == 400
    assert client.get(f"/feedback/{down[:-3]}abc").status_code == 400


def send_digest(runtime: Runtime, subscriber_id: int, day: dt.date, papers: list[int]) -> None:
    with session_scope(runtime.factory) as session:
        delivery = store.create_delivery(
            session, subscriber_id=subscriber_id, digest_date=day,
            items=[(p, 1.0, ['matches "segmentation"']) for p in papers], now=NOW,
        )  # fmt: skip
        assert delivery is not None
        store.finish_delivery(
            session, delivery_id=delivery.id, status="sent", now=NOW, message_id="<x@y>"
        )


def test_archive_and_atom_feed_list_the_sent_digests(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    ids = paper_ids(runtime, 5)
    send_digest(runtime, sub_id, dt.date(2025, 8, 18), ids[:2])
    send_digest(runtime, sub_id, dt.date(2025, 8, 19), ids[2:5])
    with session_scope(runtime.factory) as session:  # a failed one is not in the archive
        store.create_delivery(
            session, subscriber_id=sub_id, digest_date=dt.date(2025, 8, 20), items=[], now=NOW
        )
    token = runtime.signer.make("manage", s=sub_id)
    archive = client.get(f"/archive/{token}")
    assert archive.status_code == 200
    days = re.findall(r"<h2>([^<]+)</h2>", archive.text)
    assert days == ["Tuesday 19 August 2025", "Monday 18 August 2025"]
    assert (
        '<section class="card digest" id="2025-08-19">' in archive.text
    )  # "view in browser" lands here
    assert archive.text.count("matches &#34;segmentation&#34;") == 5
    feed_path = re.search(r'href="(/feed/[^"]+\.atom)"', archive.text).group(1)  # type: ignore[union-attr]

    feed = client.get(feed_path)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith(
        "application/atom+xml"
    )
    root = ET.fromstring(feed.content)
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == [  # type: ignore[union-attr]
        "Papers for Tuesday 19 August 2025 (3)", "Papers for Monday 18 August 2025 (2)",
    ]  # fmt: skip
    assert (
        root.find(f"{ATOM}link[@rel='self']")
        .get("href")
        .startswith("https://paperboy.example.org/feed/")
    )  # type: ignore[union-attr]
    content = entries[0].find(f"{ATOM}content").text  # type: ignore[union-attr]
    assert content.count("<li>") == 3 and "matches &#34;segmentation&#34;" in content  # type: ignore[union-attr]

    assert (
        client.get(f"/feed/{token}.atom").status_code == 400
    )  # a manage token is not a feed token
    assert client.get(f"/archive/{runtime.signer.make('feed', s=sub_id)}").status_code == 400


def test_metrics_in_prometheus_text_format(
    runtime: Runtime, client: TestClient, sub_id: int, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    with session_scope(runtime.factory) as session:
        store.add_subscriber(session, email="b@example.org", status="pending", timezone="UTC", delivery_hour=8,
                             cadence="daily", max_papers=5, topics=[], now=NOW)  # fmt: skip
    send_digest(runtime, sub_id, dt.date(2025, 8, 19), paper_ids(runtime, 2))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(SourceError):
        ingest_file(runtime.factory, path=bad, source="broken", now=NOW)
    runtime.settings.metrics_token = "metrics-token"
    body = client.get("/metrics", headers={"Authorization": "Bearer metrics-token"})
    assert body.status_code == 200 and body.headers["content-type"].startswith("text/plain")
    text = body.text
    assert 'paperboy_subscribers{status="active"} 1.0' in text
    assert 'paperboy_subscribers{status="pending"} 1.0' in text
    assert 'paperboy_subscribers{status="unsubscribed"} 0.0' in text
    assert (
        'paperboy_deliveries{status="sent"} 1.0' in text
        and 'paperboy_deliveries{status="failed"} 0.0' in text
    )
    values = {
        (name, label): float(value)
        for name, label, value in re.findall(
            r'^(paperboy_\w+_ingest_timestamp_seconds)\{source="(\w+)"\} (\S+)$', text, re.M
        )
    }
    assert values == {
        ("paperboy_last_ingest_timestamp_seconds", "sample"): (
            NOW - dt.timedelta(hours=2)
        ).timestamp(),
        ("paperboy_last_successful_ingest_timestamp_seconds", "sample"): (
            NOW - dt.timedelta(hours=2)
        ).timestamp(),
        (
            "paperboy_last_ingest_timestamp_seconds",
            "broken",
        ): NOW.timestamp(),  # failed: no successful one
    }
    assert "# TYPE paperboy_subscribers gauge" in text


# --- ranking preferences: topic matching (relevance floor) and trending papers (trending share) ---

TRENDING_TITLES = {title for _id, title, *_rest in TRENDING}


@pytest.fixture
def trending(runtime: Runtime, papers: None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Four Hugging Face papers with upvotes a day and a half ago and now: the day's trending."""
    ingest_file(runtime.factory, path=hf_file(tmp_path / "then.json", now=False), source="hf_daily",
                now=NOW - dt.timedelta(hours=30))  # fmt: skip
    ingest_file(runtime.factory, path=hf_file(tmp_path / "now.json", now=True), source="hf_daily",
                now=NOW - dt.timedelta(minutes=5))  # fmt: skip


def selected(page: str, name: str) -> str:
    found = re.search(
        rf'<select id="{name}" name="{name}".*?<option value="([^"]*)" selected', page, re.S
    )
    assert found, f"no selected {name} option"
    return found.group(1)


def test_the_ranking_preferences_are_labelled_choices_saved_and_defaulted(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text
    assert '<label for="relevance_floor">How strict should topic matching be?</label>' in page
    assert '<label for="trending_share">Mix in what’s trending</label>' in page
    assert 'aria-describedby="relevance_floor-hint"' in page and 'id="trending_share-hint"' in page
    assert (selected(page, "relevance_floor"), selected(page, "trending_share")) == (
        "default",
        "default",
    )

    for floor, share, stored in (
        ("strict", "lot", (0.5, 0.4)),
        ("loose", "none", (0.15, 0.0)),
        ("default", "little", (None, 0.1)),
        ("strict", "default", (0.5, None)),
        ("default", "default", (None, None)),
    ):
        saved = client.post(
            f"/manage/{token}", data=form_of(page, relevance_floor=floor, trending_share=share)
        )
        assert saved.status_code == 200 and "Saved." in saved.text, saved.text[:2000]
        sub = load(runtime, sub_id)
        assert (sub.relevance_floor, sub.trending_share) == stored, (floor, share)
        # The page shows what is stored; other settings are untouched.
        assert (
            selected(saved.text, "relevance_floor"),
            selected(saved.text, "trending_share"),
        ) == (floor, share)
        assert (sub.max_papers, sub.timezone, len(sub.topics)) == (5, "UTC", 2)


def test_a_value_set_elsewhere_is_shown_and_kept_and_a_form_without_the_fields_keeps_them(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    with session_scope(
        runtime.factory
    ) as session:  # as `paperboy subscribers add --floor 0.35` would
        store.set_ranking_preferences(
            session, subscriber_id=sub_id, relevance_floor=0.35, trending_share=0.1
        )
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text
    assert (selected(page, "relevance_floor"), selected(page, "trending_share")) == (
        "0.35",
        "little",
    )
    assert "Your own setting (0.35)" in page
    resaved = client.post(f"/manage/{token}", data=form_of(page, relevance_floor="0.35", trending_share="little",
                                                            max_papers="7"))  # fmt: skip
    assert resaved.status_code == 200
    sub = load(runtime, sub_id)
    assert (sub.relevance_floor, sub.trending_share, sub.max_papers) == (0.35, 0.1, 7)
    # form_of sends neither field, as a page from before they existed would not: stored values stay.
    client.post(f"/manage/{token}", data=form_of(page, max_papers="6"))
    sub = load(runtime, sub_id)
    assert (sub.relevance_floor, sub.trending_share, sub.max_papers) == (0.35, 0.1, 6)


def test_a_bad_ranking_preference_is_named_and_nothing_is_saved(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text
    for changes, message in (
        (
            {"relevance_floor": "very"},
            "topic matching: &#39;very&#39; is not one of loose, default, strict",
        ),
        (
            {"relevance_floor": "1.5"},
            "topic matching: &#39;1.5&#39; must be one of loose, default, strict or a number from 0 to 1",
        ),
        ({"relevance_floor": "nan"}, "topic matching: &#39;nan&#39; must be"),
        (
            {"trending_share": "heaps"},
            "trending papers: &#39;heaps&#39; is not one of none, little, default, lot",
        ),
        ({"trending_share": "-0.1"}, "trending papers: &#39;-0.1&#39; must be"),
    ):
        data = form_of(
            page,
            **{"relevance_floor": "strict", "trending_share": "lot", "max_papers": "9", **changes},
        )
        answer = client.post(f"/manage/{token}", data=data)
        assert answer.status_code == 400 and message in answer.text, (changes, answer.text[:3000])
        fragment = client.post(f"/manage/{token}", data={**data, "action": "preview"},
                               headers={"X-Paperboy-Fragment": "1"})  # fmt: skip
        assert fragment.status_code == 400 and message in fragment.text
    sub = load(runtime, sub_id)
    assert (sub.relevance_floor, sub.trending_share, sub.max_papers) == (None, None, 5)


def test_the_preview_follows_the_unsaved_trending_share(
    runtime: Runtime, client: TestClient, trending: None
) -> None:
    with session_scope(runtime.factory) as session:  # a narrow topic: few papers match it
        subscriber_id = store.add_subscriber(
            session, email="narrow@example.org", status="active", timezone="UTC", delivery_hour=8, cadence="daily",
            max_papers=5, topics=[("keyword", "survival analysis", 1.0)], now=NOW - dt.timedelta(days=30),
        ).id  # fmt: skip
    token = runtime.signer.make("manage", s=subscriber_id)
    page = client.get(f"/manage/{token}").text

    def preview(share: str) -> tuple[list[str], str]:
        answer = client.post(f"/manage/{token}", data=form_of(page, action="preview", trending_share=share),
                             headers={"X-Paperboy-Fragment": "1"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        return preview_titles(answer.text), answer.text

    none, none_html = preview("none")
    assert none and not TRENDING_TITLES & set(none) and "trending:" not in none_html
    default, _ = preview("default")  # 0.2 of 5 papers: one place
    assert [t for t in default if t in TRENDING_TITLES] == [
        "A benchmark for protein structure prediction"
    ]
    # 0.4 of 5 papers: two places, but the most upvoted papers are off the topic, and at most one
    # off-topic trending paper goes in, saying so; the other place goes back to a topic match.
    lot, lot_html = preview("lot")
    assert [t for t in lot if t in TRENDING_TITLES] == [
        "A benchmark for protein structure prediction"
    ]
    assert "trending: 90 upvotes (+85 today), off your topics" in lot_html and len(lot) == 5
    assert lot[:3] == none[:3]  # the best topic matches keep their places
    sub = load(runtime, subscriber_id)  # a preview saves nothing
    assert (sub.relevance_floor, sub.trending_share) == (None, None)


def test_the_preview_follows_the_unsaved_topic_matching(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    page = client.get(f"/manage/{token}").text

    def count(floor: str) -> int:
        answer = client.post(f"/manage/{token}", headers={"X-Paperboy-Fragment": "1"}, data=form_of(
            page, action="preview", relevance_floor=floor, trending_share="none", max_papers="50",
            text=["causal inference"], kind=["keyword"], weight=["1"],
        ))  # fmt: skip
        assert answer.status_code == 200, answer.text
        return len(preview_titles(answer.text))

    loose, normal, strict = count("loose"), count("default"), count("strict")
    assert loose > normal > strict, (loose, normal, strict)


def test_manage_page_notes_a_topic_that_matched_nothing_lately(
    runtime: Runtime, client: TestClient, papers: None
) -> None:
    with session_scope(runtime.factory) as session:
        sub = store.add_subscriber(
            session, email="bo@example.org", status="active", timezone="UTC", delivery_hour=8, cadence="daily",
            max_papers=5, topics=[("keyword", "segmentation", 1.0), ("category", "cs.XX", 1.0)], now=NOW,
        )  # fmt: skip
        token = runtime.signer.make("manage", s=sub.id)
    page = client.get(f"/manage/{token}").text
    notes = re.findall(r'<p class="hint quiet-topic" id="(quiet-\d+)">([^<]+)</p>', page)
    assert notes == [("quiet-2", "No paper matched this in the last 14 days.")]
    assert re.search(r'value="cs.XX"[^>]*aria-describedby="quiet-2"', page)
