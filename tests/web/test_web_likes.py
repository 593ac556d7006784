"""Seeding an interest on the manage page: pasted arXiv ids/URLs and an uploaded .bib or CSL
.json file (CSRF'd POST), the results shown (added, not found on arXiv, rejected lines), the
liked papers listed with a remove button; an upload over 2 MB refused before it is read whole."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.delivery.runtime import Runtime
from service.settings import load_settings
from service.storage import store
from service.storage.engine import session_scope
from service.subscribers.liked_papers import MAX_FILE_BYTES
from tests.ledger.test_http_sources import arxiv_clock  # noqa: F401
from tests.support.http_replay import FakeClock, ReplayServer, Reply
from tests.support.web_helpers import NOW, csrf_of
from tests.web.test_web_browser import server, shoot  # noqa: F401

UNKNOWN = "2409.99999"


@pytest.fixture
def sub_id(runtime: Runtime, papers: None) -> int:
    with session_scope(runtime.factory) as session:
        sub = store.add_subscriber(
            session, email="ada@example.org", status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=6, topics=[("keyword", "reasoning", 1.0)],
            now=NOW - dt.timedelta(days=30),
        )  # fmt: skip
        store.add_interest(session, subscriber=sub, name="Reward models", now=NOW)
        session.commit()
        return sub.id


@pytest.fixture
def arxiv_api(  # type: ignore[no-untyped-def]
    runtime: Runtime, replay_server: ReplayServer, recorded_dir: Path,
    arxiv_clock: FakeClock,  # noqa: F811
):  # fmt: skip
    body = (recorded_dir / "arxiv_api_query_testing.xml").read_bytes()
    replay_server.routes["/api/query"] = lambda request: Reply(200, body)
    runtime.pipeline.settings = runtime.pipeline.settings.model_copy(
        update={"arxiv_api_url": f"{replay_server.url}/api", "http_max_attempts": 1}
    )
    return replay_server


def likes(runtime: Runtime, sid: int, name: str) -> list[str]:
    with session_scope(runtime.factory) as session:
        (row,) = [r for r in store.list_interests(session, subscriber_id=sid) if r.name == name]
        return [lk.title for lk in row.likes]


def interest_id(runtime: Runtime, sid: int, name: str) -> int:
    with session_scope(runtime.factory) as session:
        return store.get_interest(session, subscriber_id=sid, name=name).id


def test_seeding_an_interest_on_the_manage_page(
    runtime: Runtime, client: TestClient, sub_id: int, arxiv_api: ReplayServer
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    target = interest_id(runtime, sub_id, "Reward models")
    page = client.get(f"/manage/{token}?interest={target}").text
    assert 'action="/manage/' in page and 'enctype="multipart/form-data"' in page
    csrf = csrf_of(page)
    url = f"/manage/{token}/likes"
    form = {"interest": str(target), "ids": "2410.18451 https://arxiv.org/abs/2410.18252v1"}
    assert client.post(url, data=form).status_code == 403  # no CSRF
    assert likes(runtime, sub_id, "Reward models") == []

    done = client.post(url, data={**form, "ids": form["ids"] + f" {UNKNOWN} nonsense",
                                  "csrf_token": csrf})  # fmt: skip
    assert done.status_code == 200, done.text
    assert "2 added" in done.text and f"Not found on arXiv: {UNKNOWN}" in done.text
    assert "&#39;nonsense&#39; is not an arXiv id or URL" in done.text
    titles = likes(runtime, sub_id, "Reward models")
    assert len(titles) == 2 and titles[0].startswith("Skywork-Reward")
    assert "Skywork-Reward" in done.text  # listed, with its remove button
    assert likes(runtime, sub_id, "reasoning") == []

    # A BibTeX upload: a paper the ledger has, a line without an id rejected.
    bib = (
        "@article{a,\n  title = {Testing},\n  eprint = {2202.12139},\n  archivePrefix = {arXiv}\n}\n"
        "\n@book{b,\n  title = {No id}\n}\n"
    )
    wanted = arxiv_api.requests_to("/api/query")
    uploaded = client.post(
        url, data={"interest": str(target), "csrf_token": csrf},
        files={"file": ("mine.bib", bib.encode(), "application/x-bibtex")},
    )  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    assert "1 added" in uploaded.text
    assert "mine.bib: line 7: entry &#39;b&#39; has no arXiv id" in uploaded.text
    assert arxiv_api.requests_to("/api/query") == wanted  # the ledger has it: not asked
    assert len(likes(runtime, sub_id, "Reward models")) == 3

    # A Zotero CSL JSON file; then a file that is neither: a clear error, nothing added.
    csl = json.dumps([{"title": "LOGO", "URL": "https://arxiv.org/abs/2410.18533"}]).encode()
    client.post(url, data={"interest": str(target), "csrf_token": csrf},
                files={"file": ("z.json", csl, "application/json")})  # fmt: skip
    assert len(likes(runtime, sub_id, "Reward models")) == 4
    bad = client.post(url, data={"interest": str(target), "csrf_token": csrf},
                      files={"file": ("notes.bib", b"just words", "text/plain")})  # fmt: skip
    assert bad.status_code == 400 and "neither BibTeX" in bad.text

    # Remove (undo) one liked paper.
    with session_scope(runtime.factory) as session:
        first = store.get_interest_by_id(session, subscriber_id=sub_id, interest_id=target)
        paper = first.likes[0].paper_id
    remove = f"/manage/{token}/likes/remove"
    assert client.post(remove, data={"interest": target, "paper": paper}).status_code == 403
    gone = client.post(remove, data={"interest": target, "paper": paper, "csrf_token": csrf},
                       follow_redirects=False)  # fmt: skip
    assert gone.status_code == 303
    assert len(likes(runtime, sub_id, "Reward models")) == 3


def test_an_upload_over_2_mb_is_refused_before_it_is_read(
    runtime: Runtime, client: TestClient, sub_id: int
) -> None:
    token = runtime.signer.make("manage", s=sub_id)
    target = interest_id(runtime, sub_id, "Reward models")
    csrf = csrf_of(client.get(f"/manage/{token}").text)
    form = {"interest": str(target), "csrf_token": csrf}
    big = b"@misc{x, note = {" + b"a" * (MAX_FILE_BYTES + 100_000) + b"}}"
    refused = client.post(
        f"/manage/{token}/likes", data=form, files={"file": ("big.bib", big, "text/plain")}
    )
    assert refused.status_code == 413 and "larger than 2 MB" in refused.text  # by its length
    just_over = b"a" * (MAX_FILE_BYTES + 1)
    refused = client.post(
        f"/manage/{token}/likes", data=form, files={"file": ("big.bib", just_over, "text/plain")}
    )
    assert refused.status_code == 400 and "big.bib: the file is larger than 2 MB" in refused.text

    # Without a Content-Length (chunked), the reading stops at the limit all the same.
    def chunks():  # type: ignore[no-untyped-def]
        boundary = b"--b\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="big.bib"\r\n\r\n'
        for _ in range(MAX_FILE_BYTES // 65536 + 4):
            yield b"a" * 65536
        yield b"\r\n--b--\r\n"

    chunked = client.post(
        f"/manage/{token}/likes", content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )  # fmt: skip
    assert chunked.status_code == 413
    assert likes(runtime, sub_id, "Reward models") == []


@pytest.mark.browser
def test_the_liked_papers_fit_a_phone_and_a_desktop(server, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server.run("subscribers", "add", "ada@example.org", "--topic", "reasoning")
    server.run("interests", "add", "ada@example.org", "Reward models",
               "--like", "2410.18451", "--like", "2410.18252")  # fmt: skip
    runtime = Runtime(load_settings(database_url=server.env["PAPERBOY_DATABASE_URL"]))
    try:
        with session_scope(runtime.factory) as session:
            sid = store.get_subscriber(session, email="ada@example.org").id
            target = store.get_interest(session, subscriber_id=sid, name="Reward models").id
        token = runtime.signer.make("manage", s=sid)
    finally:
        runtime.engine.dispose()
    for width in (375, 1280):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{server.url}/manage/{token}?interest={target}")
        liked = page.locator("details#likes .liked-title")
        assert liked.count() == (2 if width == 375 else 3) and liked.first.is_visible()
        # Papers the ledger has (no look-up: the served app has no fake arXiv).
        page.fill(f"#ids-{target}", "2410.18533 https://arxiv.org/abs/2410.18533v1 nonsense")
        page.locator(f"#file-{target}").set_input_files(
            files=[{"name": "z.json", "mimeType": "application/json",
                    "buffer": b'[{"URL": "https://arxiv.org/abs/2410.18533"}, {"title": "x"}]'}]
        )  # fmt: skip
        if width == 375:
            page.locator("details#likes button.small", has_text="Add papers").click()
            page.wait_for_selector(".seed-report")
            report = page.locator(".seed-report").inner_text()
            assert "1 added" in report and "item 2" in report and "nonsense" in report
            assert page.locator("details#likes .liked-title").count() == 3
        shoot(page, tmp_path, "web-manage-likes", width)
        page.close()
