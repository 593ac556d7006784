"""`paperboy interests add --like/--bibtex/--zotero` and `paperboy interests like`: an interest
seeded from papers (the ledger's, or looked up in the recorded arXiv export-API answer), an id
arXiv does not know reported and not stored, bad entries listed with their line, bad input exit 2;
the digest then has a section for it whose reasons name the interest and the liked paper."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from service.cli.main import cli
from service.resources import sample_listings_path
from tests.ledger.test_http_sources import arxiv_clock  # noqa: F401
from tests.support.http_replay import FakeClock, ReplayServer, Reply

# Five software-testing papers of the recorded export-API answer, left out of the listings
# ingested here (the bundled sample holds them and five more on testing, which stay candidates).
LIKED = ["2202.12139", "2405.13786", "2005.14124", "2204.08348", "2302.03287"]
UNKNOWN = "2409.99999"  # neither in the sample nor in the recorded answer


@pytest.fixture
def run(  # type: ignore[no-untyped-def]
    database_url: str, migrate: Callable[[str], None], replay_server: ReplayServer,
    recorded_dir: Path, tmp_path: Path, arxiv_clock: FakeClock,  # noqa: F811
):  # fmt: skip
    body = (recorded_dir / "arxiv_api_query_testing.xml").read_bytes()
    replay_server.routes["/api/query"] = lambda request: Reply(200, body)
    env = {
        "PAPERBOY_DATABASE_URL": database_url, "PAPERBOY_SEMANTIC": "off",
        "PAPERBOY_ARXIV_API_URL": f"{replay_server.url}/api", "PAPERBOY_HTTP_MAX_ATTEMPTS": "1",
    }  # fmt: skip
    runner = CliRunner()

    def paperboy(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    migrate(database_url)
    listings = tmp_path / "listings.jsonl"
    with listings.open("w") as out:
        for line in sample_listings_path().read_text().splitlines():
            if json.loads(line).get("arxiv_id") not in LIKED:
                out.write(line + "\n")
    paperboy("ingest", "--file", str(listings))
    paperboy("subscribers", "add", "ada@example.org", "--topic", "reasoning", "--max", "6")
    return paperboy


def test_an_interest_seeded_from_five_arxiv_ids_gets_its_section(run, replay_server) -> None:  # type: ignore[no-untyped-def]
    out = run(
        "interests", "add", "ada@example.org", "Software testing", "--share", "0.5",
        "--like", LIKED[0], "--like", f"https://arxiv.org/abs/{LIKED[1]}v2",
        "--like", f"arXiv:{LIKED[2]}", "--like", LIKED[3], "--like", LIKED[4],
        "--like", UNKNOWN, "--like", "not-an-id", "--json",
    ).output  # fmt: skip
    seeded = json.loads(out)["seeded"]
    assert seeded["added"] == seeded["fetched"] == LIKED
    assert seeded["not_found"] == [UNKNOWN]
    assert seeded["rejected"] == ["'not-an-id' is not an arXiv id or URL"]
    [request] = replay_server.requests_to("/api/query")
    assert request.query["id_list"].split(",") == [*LIKED, UNKNOWN]

    interests = json.loads(run("interests", "list", "ada@example.org", "--json").output)
    assert [i["name"] for i in interests] == ["reasoning", "Software testing"]
    titles = {lk["title"] for lk in interests[1]["likes"]}
    assert len(titles) == 5 and any(t.startswith("Testing Deep Learning Models") for t in titles)

    picks = json.loads(run("preview", "ada@example.org", "--json").output)["papers"]
    assert [p["interest"] for p in picks] == ["reasoning"] * 3 + ["Software testing"] * 3
    for pick in picks:
        assert pick["reasons"][0] == f"for {pick['interest']}"
    for pick in picks[3:]:
        liked = [r[len('like "') : -1] for r in pick["reasons"] if r.startswith('like "')]
        assert liked and set(liked) <= titles, pick["reasons"]
        assert pick["title"] not in titles  # a liked paper is read, never picked

    # Strengthening it: the liked ones are reported, nothing asked from arXiv twice.
    out = run("interests", "like", "ada@example.org", "software TESTING", LIKED[0], UNKNOWN).output
    assert "0 added, 1 already liked, 1 not found on arXiv (2409.99999)" in out
    assert replay_server.requests_to("/api/query")[-1].query["id_list"] == UNKNOWN

    # arXiv down: the id is reported not found, with the error, and the command exits 1.
    replay_server.routes["/api/query"] = lambda request: Reply(503, b"down")
    out = run("interests", "like", "ada@example.org", "Software testing", UNKNOWN, code=1).output
    assert "1 not found on arXiv" in out and "arXiv look-up failed" in out and "503" in out


def test_bibtex_and_zotero_files_and_bad_input(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bib = tmp_path / "mine.bib"
    bib.write_text(
        "@article{sky,\n  title = {Skywork-Reward},\n  eprint = {2410.18451},\n"
        "  archivePrefix = {arXiv}\n}\n\n@book{old,\n  title = {A book}\n}\n"
    )
    csl = tmp_path / "zotero.json"
    csl.write_text(json.dumps([{"title": "Async", "URL": "https://arxiv.org/abs/2410.18252"}]))
    run("interests", "add", "ada@example.org", "Motion", "--topic", "motion")
    out = run(
        "interests", "like", "ada@example.org", "Motion", "--bibtex", str(bib), "--zotero", str(csl)
    ).output
    assert "2 added" in out and "1 rejected" in out
    assert f"rejected: {bib}: line 7: entry 'old' has no arXiv id" in out

    assert (
        "not-a-file"
        in run(
            "interests", "like", "ada@example.org", "Motion", "--bibtex", "not-a-file", code=2
        ).output
    )
    notes = tmp_path / "notes.bib"
    notes.write_text("just some words")
    assert (
        "neither BibTeX"
        in run(
            "interests", "like", "ada@example.org", "Motion", "--bibtex", str(notes), code=2
        ).output
    )
    assert (
        "no arXiv papers"
        in run("interests", "like", "ada@example.org", "Motion", "nonsense", code=2).output
    )
    assert "give arXiv ids" in run("interests", "like", "ada@example.org", "Motion", code=2).output
    assert (
        "no interest 'Nope'"
        in run("interests", "like", "ada@example.org", "Nope", "2410.18451", code=2).output
    )
    # A bad file refuses the whole command: no interest is made.
    run("interests", "add", "ada@example.org", "X", "--bibtex", str(notes), code=2)
    names = [
        i["name"] for i in json.loads(run("interests", "list", "ada@example.org", "--json").output)
    ]
    assert names == ["reasoning", "Motion"]
