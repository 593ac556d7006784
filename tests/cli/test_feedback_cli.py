"""`paperboy feedback` and `preview --json` on the sample papers: reasons, excludes, votes that steer."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from service.cli.main import cli
from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file, utcnow
from service.ranking.index import RelevanceIndex
from service.settings import load_settings
from service.storage import store
from service.storage.engine import session_scope

EMAIL = "reader@example.org"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.db'}",
        "PAPERBOY_OUTBOX_DIR": str(tmp_path / "outbox"),
    }


# Hugging Face daily_papers items (invented papers): upvotes a day and a half ago, and now.
TRENDING = [
    (
        "2508.10001",
        "An open world model for autonomous driving",
        "Driving scenes simulated by a world model.",
        12,
        42,
        800,
        6,
    ),
    (
        "2508.10002",
        "A benchmark for protein structure prediction",
        "Proteins, folds and a leaderboard.",
        5,
        90,
        0,
        2,
    ),
    (
        "2508.10003",
        "Robot learning from video demonstrations",
        "Robots imitate people in videos.",
        50,
        60,
        40,
        1,
    ),
    (
        "2508.10004",
        "Language models as judges of code",
        "Large language models grade programs.",
        3,
        20,
        0,
        0,
    ),
]


def hf_file(path: Path, *, now: bool) -> Path:
    items = [
        {
            "paper": {
                "id": arxiv_id, "title": title, "summary": summary, "upvotes": up_now if now else up_then,
                "authors": [{"name": "Ada Example"}], "githubStars": stars,
            },
            "numComments": comments,
        }
        for arxiv_id, title, summary, up_then, up_now, stars, comments in TRENDING
    ]  # fmt: skip
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


@pytest.fixture
def run(env: dict[str, str], tmp_path: Path, migrate: Callable[[str], None]):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def paperboy(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    migrate(env["PAPERBOY_DATABASE_URL"])  # `paperboy db upgrade`, from the session's template
    paperboy("ingest", "--sample")
    factory = Runtime(load_settings(database_url=env["PAPERBOY_DATABASE_URL"])).factory
    now = utcnow()
    ingest_file(
        factory,
        path=hf_file(tmp_path / "then.json", now=False),
        source="hf_daily",
        now=now - dt.timedelta(hours=30),
    )
    ingest_file(
        factory,
        path=hf_file(tmp_path / "now.json", now=True),
        source="hf_daily",
        now=now - dt.timedelta(minutes=5),
    )
    return paperboy


def preview(run) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return json.loads(run("preview", EMAIL, "--json").stdout)["papers"]


def test_preview_json_names_topics_and_terms_and_excluded_terms_never_appear(
    run, env: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    added = run(
        "subscribers", "add", EMAIL, "--topic", "reinforcement learning^2", "--topic", "language models",
        "--exclude", "robot", "--exclude", "video", "--max", "10", "--floor", "0.35", "--trending-share", "0.2", "--json",
    )  # fmt: skip
    data = json.loads(added.stdout)
    assert data["relevance_floor"] == 0.35 and data["trending_share"] == 0.2
    assert {"kind": "keyword", "text": "reinforcement learning", "weight": 2.0} in data["topics"]
    papers = preview(run)
    assert len(papers) == 10
    trending = [p for p in papers if p["reasons"][0].startswith("trending: ")]
    relevant = [p for p in papers if p not in trending]
    for p in relevant:
        assert p["matches"], p
        for match in p["matches"]:
            assert match["topic"] in ("reinforcement learning", "language models")
        # Each reason names its topic: by its words (with the words) or by its meaning.
        assert all(
            r.startswith(("matches ", "partly matches ", "close in meaning to "))
            for r in p["reasons"]
        ), p["reasons"]
        worded = [m for m in p["matches"] if m["terms"]]
        assert len(worded) == sum(r.startswith(("matches ", "partly ")) for r in p["reasons"])
    # Two trending places, taken by trending papers near these topics, which say which topic they
    # match; the most upvoted paper of the day (90 upvotes) is off these topics and stays out.
    assert len(trending) == 2
    for p in trending:
        assert p["matches"] and not p["reasons"][0].endswith("off your topics")
    assert all("90 upvotes" not in r for p in papers for r in p["reasons"])
    for p in papers:
        text = p["title"].lower()
        assert "robot" not in text and "video" not in text
    html_path = Path(env["PAPERBOY_OUTBOX_DIR"]).parent / "digest.html"
    run("preview", EMAIL, "--out", str(html_path))
    page = html.unescape(html_path.read_text(encoding="utf-8"))
    assert page.count("Why:</strong> ") == 10
    with session_scope(
        Runtime(load_settings(database_url=env["PAPERBOY_DATABASE_URL"])).factory
    ) as session:
        shown = store.papers_by_id(session, ids=[p["id"] for p in papers])
    for p in shown.values():
        words = f"{p.title} {p.abstract}".lower()
        assert "robot" not in words and "video" not in words


def test_a_thumbs_down_lowers_similar_papers_in_the_next_preview(run, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    run(
        "subscribers",
        "add",
        EMAIL,
        "--topic",
        "language models",
        "--max",
        "15",
        "--trending-share",
        "0",
    )
    before = preview(run)
    disliked = before[0]
    with session_scope(
        Runtime(load_settings(database_url=env["PAPERBOY_DATABASE_URL"])).factory
    ) as session:
        candidates = store.candidates_since(session, since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    index = RelevanceIndex(candidates)
    target = next(c for c in candidates if c.paper_id == disliked["id"])
    similarity = index.similarity(target)
    others = sorted(before[1:], key=lambda p: -similarity[index.position[p["id"]]])
    closest, farthest = others[0], others[-1]
    assert (
        similarity[index.position[closest["id"]]] > 2 * similarity[index.position[farthest["id"]]]
    )

    reference = disliked["arxiv_id"] or str(disliked["id"])
    voted = json.loads(run("feedback", EMAIL, reference, "down", "--json").stdout)
    assert voted == {"email": EMAIL, "paper_id": disliked["id"], "vote": -1, "changed": True}
    after = preview(run)
    positions = {p["id"]: i for i, p in enumerate(after)}
    scores = {p["id"]: p["score"] for p in after}
    assert disliked["id"] not in positions  # voted on: read already
    old_position = {p["id"]: i for i, p in enumerate(before)}
    assert closest["id"] not in positions or positions[closest["id"]] > old_position[closest["id"]]
    drop_closest = closest["score"] - scores.get(closest["id"], -1.0)
    drop_farthest = farthest["score"] - scores.get(farthest["id"], farthest["score"])
    assert drop_closest > drop_farthest >= 0
    assert all(scores[p["id"]] <= p["score"] + 1e-9 for p in before if p["id"] in scores)


def test_feedback_errors_name_the_input(run) -> None:  # type: ignore[no-untyped-def]
    run("subscribers", "add", EMAIL, "--topic", "diffusion")
    paper_id = str(preview(run)[0]["id"])
    assert (
        "no paper with arXiv id '2101.00001'"
        in run("feedback", EMAIL, "2101.00001", "up", code=2).output
    )
    assert (
        "invalid paper id 'not-a-paper'"
        in run("feedback", EMAIL, "not-a-paper", "up", code=2).output
    )
    assert (
        "no paper with internal id '999999'"
        in run("feedback", EMAIL, "999999", "up", code=2).output
    )
    assert "invalid vote 'sideways'" in run("feedback", EMAIL, paper_id, "sideways", code=2).output
    assert (
        "no subscriber 'nobody@example.org'"
        in run("feedback", "nobody@example.org", paper_id, "up", code=2).output
    )
    assert "up on paper" in run("feedback", EMAIL, paper_id, "up").output
    assert "(already recorded)" in run("feedback", EMAIL, paper_id, "up").output


def test_subscribers_add_refuses_bad_preferences(run) -> None:  # type: ignore[no-untyped-def]
    assert (
        "invalid --floor 1.5" in run("subscribers", "add", EMAIL, "--floor", "1.5", code=2).output
    )
    assert (
        "invalid --trending-share -0.1"
        in run("subscribers", "add", EMAIL, "--trending-share", "-0.1", code=2).output
    )
    assert (
        "invalid weight 'x'"
        in run("subscribers", "add", EMAIL, "--topic", "diffusion^x", code=2).output
    )


def test_a_subscriber_without_topics_gets_the_trending_papers(run) -> None:  # type: ignore[no-untyped-def]
    run("subscribers", "add", EMAIL, "--max", "60")
    papers = preview(run)
    assert len(papers) == 60
    # The invented papers among the sample's Hugging Face ones, most trending first.
    assert [p["arxiv_id"] for p in papers[:5]] == [
        "2508.10002",
        "2410.17243",
        "2508.10001",
        "2508.13167",
        "2410.16251",
    ]
    assert papers[0]["reasons"] == ["trending: 90 upvotes (+85 today)"]
    reasons = [p["reasons"][0] for p in papers]
    # 47 papers with upvotes, then the arXiv papers, which have none.
    assert all(r.startswith("trending: ") for r in reasons[:47])
    assert set(reasons[47:]) == {"new today"}
