"""A digest's paper links under its one signed token: ``/feedback/<digest token>?p=…&v=…`` and
``/steer/<digest token>?p=…&k=…&t=…``. The query is not signed, so the server checks it: a
tampered link is refused or harmless, never a vote, like or exclude beyond the subscriber's own.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time

from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.records import Candidate, Reason, ScoredPaper
from service.storage import store
from service.storage.engine import session_scope
from service.subscribers.paper_links import belongs, digest_token, feedback_url, steer_url
from tests.support.web_helpers import press

NOW = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)
MOLECULES = ("2508.00001", "Graph Neural Networks for Molecules", ["Jane Q. Doe", "Max Roe"])
TRAFFIC = ("2508.00002", "Graph Neural Networks for Traffic", ["Lin Wu"])


@pytest.fixture
def world(runtime: Runtime, tmp_path: Path) -> dict[str, int]:
    """Two papers; Ada and Bob, each with a second interest "Second"."""
    path = tmp_path / "papers.jsonl"
    path.write_text("".join(
        json.dumps({"title": t, "arxiv_id": a, "authors": au, "source": "file",
                    "abstract": f"We study {t.lower()}."}) + "\n"
        for a, t, au in (MOLECULES, TRAFFIC)
    ))  # fmt: skip
    ingest_file(runtime.factory, now=NOW, path=path)
    ids: dict[str, int] = {}
    with session_scope(runtime.factory) as session:
        for name in ("ada", "bob"):
            sub = store.add_subscriber(
                session, email=f"{name}@example.org", status="active", timezone="UTC",
                delivery_hour=8, cadence="daily", max_papers=5,
                topics=[("keyword", "graph", 1.0)], now=NOW,
            )  # fmt: skip
            second = store.add_interest(session, subscriber=sub, name="Second", now=NOW)
            session.flush()
            ids[name], ids[f"{name}_second"] = sub.id, second.id
        ids["molecules"] = store.find_paper_ids(session, arxiv_id=MOLECULES[0])[0]
        ids["traffic"] = store.find_paper_ids(session, arxiv_id=TRAFFIC[0])[0]
    return ids


def interest(runtime: Runtime, subscriber_id: int, interest_id: int):  # type: ignore[no-untyped-def]
    with session_scope(runtime.factory) as session:
        rows = store.list_interests(session, subscriber_id=subscriber_id)
        return next(r for r in rows if r.id == interest_id)


def excludes(runtime: Runtime, subscriber_id: int) -> list[tuple[str, str]]:
    with session_scope(runtime.factory) as session:
        rows = store.list_interests(session, subscriber_id=subscriber_id)
        return [(r.name, t.text) for r in rows for t in r.topics if t.kind == "exclude"]


def votes(runtime: Runtime, subscriber_id: int) -> dict[int, int]:
    with session_scope(runtime.factory) as session:
        return store.feedback_votes(session, subscriber_ids=[subscriber_id]).get(subscriber_id, {})


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_digest_signs_once_and_its_links_work_end_to_end(
    runtime: Runtime, client: TestClient, world: dict[str, int]
) -> None:
    ada, paper, second = world["ada"], world["molecules"], world["ada_second"]
    candidate = Candidate(paper, "k", MOLECULES[1], authors=tuple(MOLECULES[2]))
    picks = [ScoredPaper(candidate, 1.0, (Reason('matches "graph"', "graph", ("graph",)),), "S")]
    links = runtime.pipeline.links(ada, [paper], picks, {"S": second})
    up, down = links.feedback[paper]
    (mute_label, mute), (_, phrase) = links.steer[paper]
    tokens = {urlsplit(u).path.rsplit("/", 1)[1] for u in (up, down, mute, phrase)}
    assert len(tokens) == 1  # one signature for every paper link
    assert runtime.signer.read("digest", tokens.pop()) == {"s": ada}
    assert up.endswith(f"?p={paper}&v=1&i={second}") and mute_label == "Mute Jane Q. Doe"

    page = client.get(path_of(up))  # a link scanner's fetch records nothing
    assert page.status_code == 200 and "More like this?" in page.text
    assert f'action="{html.escape(path_of(up))}"' in page.text
    assert votes(runtime, ada) == {} and interest(runtime, ada, second).likes == ()
    assert client.post(path_of(up), data={}).status_code == 403  # no CSRF, no change
    assert votes(runtime, ada) == {}
    assert "liked paper of your interest “Second”" in press(client, path_of(up))
    assert votes(runtime, ada) == {paper: 1}
    assert [lk.paper_id for lk in interest(runtime, ada, second).likes] == [paper]
    press(client, path_of(down))
    assert votes(runtime, ada) == {paper: -1}

    page = client.get(path_of(mute))
    assert page.status_code == 200 and "data-autosubmit" not in page.text
    assert excludes(runtime, ada) == []
    assert "Papers by Jane Q. Doe will no longer appear" in press(client, path_of(mute))
    press(client, path_of(phrase))
    assert excludes(runtime, ada) == [("Second", "author:Jane Q. Doe"), ("Second", "molecules")]
    assert votes(runtime, world["bob"]) == {} and excludes(runtime, world["bob"]) == []


def test_tampered_queries_are_refused(
    runtime: Runtime, client: TestClient, world: dict[str, int]
) -> None:
    token = digest_token(runtime.signer, world["ada"])
    paper, other = world["molecules"], world["traffic"]
    for query in (
        f"p={paper}&v=5", f"p={paper}&v=0", f"p={paper}&v=up", f"p={paper}", "p=abc&v=1",
        "p=-1&v=1", "p=&v=1", f"p={paper}.0&v=1", "p=99999999999&v=1", "p=9999999&v=1",
        f"p={paper}&v=1&i=x", f"p={paper}&v=1&i=0", f"p={paper}&v=True", "p=%C2%B2&v=1",
    ):  # fmt: skip
        answer = client.get(f"/feedback/{token}?{query}")
        assert answer.status_code == 400, query
        assert client.post(f"/feedback/{token}?{query}", data={}).status_code in (400, 403)
    steer = f"/steer/{token}"
    for kind, text, pid in (
        ("author", "Lin Wu", paper),  # an author, but not of this paper
        ("author", "Jane Doe", paper),  # not the name as the paper gives it
        ("phrase", "traffic", paper),  # not in this paper's title
        ("phrase", "Molecules", other),  # another paper: not in its title
        ("topic", "Molecules", paper),
        ("phrase", "   ", paper),
        ("phrase", "x" * 300, paper),
    ):
        url = steer_url("", token, pid, kind, text, None)
        assert client.get(url).status_code == 400, url
    assert client.get(f"{steer}?p={paper}&k=author").status_code == 400  # no text
    assert client.get(f"{steer}?p=x&k=author&t=Max%20Roe").status_code == 400
    # Case and spaces do not matter; the text shown is the one checked.
    page = client.get(steer_url("", token, paper, "author", "  max   ROE ", None))
    assert page.status_code == 200 and "Mute max ROE?" in page.text
    page = client.get(steer_url("", token, paper, "phrase", "networks  FOR", None))
    assert page.status_code == 200 and "“networks FOR”" in page.text
    assert votes(runtime, world["ada"]) == {} and excludes(runtime, world["ada"]) == []


def test_another_subscribers_interest_in_the_query_is_left_alone(
    runtime: Runtime, client: TestClient, world: dict[str, int]
) -> None:
    ada, paper, bobs = world["ada"], world["molecules"], world["bob_second"]
    token = digest_token(runtime.signer, ada)
    done = press(client, feedback_url("", token, paper, 1, bobs))
    assert "liked paper" not in done  # the vote alone counts: no interest of Ada's named
    assert votes(runtime, ada) == {paper: 1} and votes(runtime, world["bob"]) == {}
    assert interest(runtime, world["bob"], bobs).likes == ()
    press(client, steer_url("", token, paper, "author", "Max Roe", bobs))
    assert excludes(runtime, world["bob"]) == []
    assert [text for _, text in excludes(runtime, ada)] == ["author:Max Roe"]  # on Ada's own


def test_a_token_of_another_purpose_or_expired_is_refused(
    runtime: Runtime, client: TestClient, world: dict[str, int]
) -> None:
    ada, paper = world["ada"], world["molecules"]
    make = runtime.signer.make
    for token in (
        make("manage", s=ada),
        make("unsubscribe", s=ada),
        make("feedback", s=ada, p=paper, v=1),  # a per-link token with a query: not a digest's
        digest_token(runtime.signer, ada)[:-3] + "abc",
        make("digest", s="ada"),
        make("digest", s=10**30),
    ):
        assert client.get(feedback_url("", token, paper, 1, None)).status_code == 400
        assert client.get(steer_url("", token, paper, "author", "Max Roe", None)).status_code == 400
    # A digest token without a query is read as a per-link token: refused.
    assert client.get(f"/feedback/{digest_token(runtime.signer, ada)}").status_code == 400
    with freeze_time(dt.datetime.now() - dt.timedelta(days=91)):
        old = digest_token(runtime.signer, ada)
    answer = client.get(feedback_url("", old, paper, 1, None))
    assert answer.status_code == 400 and "expired" in answer.text
    assert votes(runtime, ada) == {}


def test_legacy_per_link_tokens_still_work(
    runtime: Runtime, client: TestClient, world: dict[str, int]
) -> None:
    ada, paper, second = world["ada"], world["molecules"], world["ada_second"]
    up = runtime.signer.make("feedback", s=ada, p=paper, v=1, i=second)
    assert "liked paper of your interest “Second”" in press(client, f"/feedback/{up}")
    mute = runtime.signer.make("steer", s=ada, p=paper, k="author", t="Max Roe", i=second)
    press(client, f"/steer/{mute}")
    assert votes(runtime, ada) == {paper: 1}
    assert excludes(runtime, ada) == [("Second", "author:Max Roe")]


def test_belongs_compares_names_and_title_phrases_loosely() -> None:
    paper = Candidate(1, "k", "Graph  Neural Networks for Molecules", authors=("Jane  Q. Doe",))
    assert belongs(paper, "author", "jane q. doe") and belongs(paper, "author", " Jane Q.  Doe ")
    assert not belongs(paper, "author", "Jane Doe") and not belongs(paper, "author", "")
    assert belongs(paper, "phrase", "neural NETWORKS") and belongs(paper, "phrase", "molecules")
    assert not belongs(paper, "phrase", "proteins") and not belongs(paper, "topic", "graph")
    long = Candidate(1, "k", "T", authors=("A" * 150,))
    assert belongs(long, "author", "a" * 120)  # mute_author cuts a name at 120 characters
