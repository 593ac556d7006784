"""Steering from the email with no login: "Mute <author>" and "Not interested in “<phrase>”".

End to end: a digest is sent (to the outbox), its link is followed (a page, nothing changed),
the button is pressed (POST with CSRF), and the next digest plans without that author's papers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.storage import store
from service.storage.engine import session_scope
from tests.support.web_helpers import csrf_of, html_of, mails_to, text_of

DAY1 = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)
DAY2 = DAY1 + dt.timedelta(days=1)
ADDRESS = "ada@example.org"


def listing(tmp_path: Path, name: str, papers: list[tuple[str, str, list[str]]]) -> Path:
    path = tmp_path / name
    lines = [
        {
            "title": title, "arxiv_id": arxiv_id, "authors": authors, "source": "file",
            "abstract": f"We study graph neural networks for {title.lower()}.",
        }
        for arxiv_id, title, authors in papers
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def send(runtime: Runtime, now: dt.datetime) -> None:
    report = send_due(runtime.pipeline, mailer=runtime.mailer(), now=now).as_dict()
    assert report["sent"] == 1, report


def titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="title"[^>]*>(?:<a [^>]*>)?([^<]+)', html)


def test_mute_this_author_from_the_email_removes_their_papers_from_the_next_digest(
    runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    ingest_file(runtime.factory, now=DAY1, path=listing(tmp_path, "day1.jsonl", [
        ("2508.00001", "Graph Neural Networks for Molecules", ["Jane Q. Doe", "Max Roe"]),
        ("2508.00002", "Graph Neural Networks for Traffic", ["Lin Wu"]),
    ]))  # fmt: skip
    with session_scope(runtime.factory) as session:
        store.add_subscriber(
            session, email=ADDRESS, status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=5, topics=[("keyword", "graph neural networks", 1.0)],
            now=DAY1,
        )  # fmt: skip
    send(runtime, DAY1.replace(hour=9))
    [first] = mails_to(runtime, ADDRESS)
    assert titles(html_of(first)) == [
        "Graph Neural Networks for Molecules", "Graph Neural Networks for Traffic",
    ]  # fmt: skip
    # The links are in both parts, compactly: the first author, and a word that is not the topic.
    assert "Mute Jane Q. Doe" in html_of(first) and "Not interested in “molecules”" in html_of(
        first
    )
    found = re.search(r"Mute Jane Q\. Doe: https?://[^/\s]+(/steer/\S+)", text_of(first))
    assert found, text_of(first)
    path = found.group(1)

    page = client.get(path)  # a link scanner's fetch changes nothing
    assert page.status_code == 200 and "Mute Jane Q. Doe?" in page.text
    assert "data-autosubmit" not in page.text
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email=ADDRESS)
        assert [(t.kind, t.text) for t in subscriber.topics] == [
            ("keyword", "graph neural networks")
        ]
    assert client.post(path, data={}).status_code == 403  # no CSRF, no change
    done = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "Papers by Jane Q. Doe will no longer appear" in done.text
    client.post(path, data={"csrf_token": csrf_of(page.text)})  # twice is once
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email=ADDRESS)
        excludes = [(t.kind, t.text) for t in subscriber.topics if t.kind == "exclude"]
    assert excludes == [("exclude", "author:Jane Q. Doe")]

    # The manage page shows it as an exclude, so it can be removed there.
    manage_path = re.search(r'href="(/manage/[^"]+)"', done.text)
    assert manage_path
    manage = client.get(manage_path.group(1))
    assert manage.status_code == 200 and "author:Jane Q. Doe" in manage.text

    # Next day: the muted author's new paper (signed "J. Doe") is left out, the rest come.
    ingest_file(runtime.factory, now=DAY2, path=listing(tmp_path, "day2.jsonl", [
        ("2508.00003", "Graph Neural Networks for Proteins", ["J. Doe"]),
        ("2508.00004", "Graph Neural Networks for Weather", ["Ana Lima"]),
    ]))  # fmt: skip
    send(runtime, DAY2.replace(hour=9))
    second = mails_to(runtime, ADDRESS)[-1]
    assert titles(html_of(second)) == ["Graph Neural Networks for Weather"]


def test_a_steer_link_for_another_purpose_or_tampered_is_refused(
    runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    ingest_file(runtime.factory, now=DAY1, path=listing(tmp_path, "d.jsonl", [
        ("2508.00001", "Graph Neural Networks for Molecules", ["Jane Q. Doe"]),
    ]))  # fmt: skip
    with session_scope(runtime.factory) as session:
        sub = store.add_subscriber(
            session, email=ADDRESS, status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=5, topics=[("keyword", "graph", 1.0)], now=DAY1,
        )  # fmt: skip
        sub_id = sub.id
        [paper] = store.find_paper_ids(session, arxiv_id="2508.00001")
    make = runtime.signer.make
    phrase = make("steer", s=sub_id, p=paper, k="phrase", t="Molecules")
    page = client.get(f"/steer/{phrase}")
    assert page.status_code == 200 and "Not interested in “Molecules”?" in page.text
    client.post(f"/steer/{phrase}", data={"csrf_token": csrf_of(page.text)})
    with session_scope(runtime.factory) as session:
        topics = store.get_subscriber(session, email=ADDRESS).topics
        assert [(t.kind, t.text) for t in topics if t.kind == "exclude"] == [
            ("exclude", "Molecules")
        ]
    for bad in (
        make("feedback", s=sub_id, p=paper, v=1),
        make("steer", s=sub_id, p=paper, k="topic", t="x"),
        make("steer", s=sub_id, p=paper, k="author", t=["x"]),
        make("steer", s=sub_id, p=paper, k="author", t=" "),
        make("steer", s=sub_id, p=999999, k="author", t="X"),
        phrase[:-3] + "abc",
    ):
        assert client.get(f"/steer/{bad}").status_code == 400
