"""Ingest into a real database (SQLite file and PostgreSQL): order, idempotence, updates."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file, ingest_folder
from service.storage import store
from service.storage.engine import session_scope
from service.storage.models import IngestRun, Paper, Sighting
from tests.support.paths import DATA

T0 = dt.datetime(2025, 8, 18, 9, 0, tzinfo=dt.UTC)


def paper_rows(runtime: Runtime) -> list[tuple]:
    with session_scope(runtime.factory) as session:
        return [
            (p.key, p.title, p.abstract, p.upvotes, p.author_count, p.first_seen, p.last_seen)
            for p in session.scalars(select(Paper).order_by(Paper.key))
        ]


def test_seed_pages_in_order_then_again(runtime: Runtime, seed_files: list[Path]) -> None:
    news = []
    for hour, path in enumerate(seed_files):
        report = ingest_file(runtime.factory, path=path, now=T0 + dt.timedelta(hours=hour))
        news.append(report.new)
        assert report.rejected == 0
        assert report.fetched == report.new + report.updated + report.unchanged
    assert news == [119, 106, 89]

    before = paper_rows(runtime)
    assert len(before) == 119 + 106 + 89
    with session_scope(runtime.factory) as session:
        sightings = session.scalar(select(func.count(Sighting.id)))
    for path in seed_files:
        again = ingest_file(runtime.factory, path=path, now=T0 + dt.timedelta(days=1))
        assert (again.new, again.updated) == (0, 0)
        assert again.unchanged == again.fetched
    assert paper_rows(runtime) == before
    with session_scope(runtime.factory) as session:
        assert session.scalar(select(func.count(Sighting.id))) == sightings
        assert session.scalar(select(func.count(IngestRun.id))) == 6


def test_more_information_updates_and_keeps_first_seen(runtime: Runtime, tmp_path: Path) -> None:
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps({"title": "A Paper", "abstract": "About things."}) + "\n")
    later = tmp_path / "later.jsonl"
    later.write_text(
        json.dumps(
            {"title": "A paper", "abstract": "About things.", "upvotes": 7, "author_count": 3}
        )
        + "\n"
    )

    assert ingest_file(runtime.factory, path=first, now=T0).new == 1
    report = ingest_file(runtime.factory, path=later, now=T0 + dt.timedelta(hours=5))
    assert (report.new, report.updated, report.unchanged) == (0, 1, 0)
    [(key, title, _abstract, upvotes, authors, first_seen, last_seen)] = paper_rows(runtime)
    assert (title, upvotes, authors) == ("A Paper", 7, 3)
    assert first_seen == T0 and last_seen == T0 + dt.timedelta(hours=5)
    with session_scope(runtime.factory) as session:
        ups = session.scalars(select(Sighting.upvotes).order_by(Sighting.id)).all()
    assert ups == [None, 7]


def test_malformed_entries_are_rejected_and_the_rest_go_in(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps({"title": "Good one", "abstract": "Fine."}) + "\n"
        + "{not json\n"
        + json.dumps({"abstract": "no title"}) + "\n"
        + json.dumps({"title": "Good two", "upvotes": 2}) + "\n"
    )  # fmt: skip
    report = ingest_file(runtime.factory, path=path, now=T0)
    assert (report.fetched, report.new, report.rejected) == (4, 2, 2)


def test_hf_json_ids_merge_with_title_keyed_papers(
    runtime: Runtime, test_data: Path, tmp_path: Path
) -> None:
    hf = test_data / "recorded" / "hf_daily_papers_2025-08-20.json"
    items = json.loads(hf.read_text())
    page = tmp_path / "page.jsonl"
    page.write_text(
        json.dumps({"title": items[0]["paper"]["title"], "abstract": "From a page."}) + "\n"
    )
    assert ingest_file(runtime.factory, path=page, now=T0).new == 1
    report = ingest_file(
        runtime.factory, path=hf, source="hf_daily", now=T0 + dt.timedelta(hours=1)
    )
    assert report.new == len(items) - 1 and report.updated == 1
    with session_scope(runtime.factory) as session:
        assert store.count_papers(session) == len(items)
        paper = session.scalar(select(Paper).where(Paper.arxiv_id == items[0]["paper"]["id"]))
        assert paper is not None and paper.key == items[0]["paper"]["id"]
        assert paper.first_seen == T0 and paper.sources == ["file", "hf_daily"]


def test_a_broken_file_is_recorded_and_the_folder_goes_on(
    runtime: Runtime, tmp_path: Path, seed_files: list[Path]
) -> None:
    folder = tmp_path / "listings"
    folder.mkdir()
    (folder / "a_broken.json").write_text('[{"paper": ')
    (folder / "b_good.txt").write_bytes(seed_files[0].read_bytes())
    reports = ingest_folder(runtime.factory, folder=folder, now=T0)
    assert [bool(r.errors) for r in reports] == [True, False]
    assert "a_broken.json" in reports[0].errors[0]
    assert reports[1].new == 119
    with session_scope(runtime.factory) as session:
        runs = session.scalars(select(IngestRun).order_by(IngestRun.id)).all()
        assert runs[0].error and runs[1].error is None and runs[1].new == 119


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_missing_file_is_a_source_error_naming_it(runtime: Runtime, tmp_path: Path) -> None:
    from service.errors import SourceError

    with pytest.raises(SourceError, match="nope.txt"):
        ingest_file(runtime.factory, path=tmp_path / "nope.txt", now=T0)


def test_folder_scan_passes_over_files_already_ingested(
    runtime: Runtime, tmp_path: Path, seed_files: list[Path]
) -> None:
    import os
    import time

    folder = tmp_path / "listings"
    folder.mkdir()
    target = folder / "day.txt"
    target.write_bytes(seed_files[0].read_bytes())
    os.utime(target, (time.time() - 60, time.time() - 60))
    assert [r.new for r in ingest_folder(runtime.factory, folder=folder)] == [119]
    assert ingest_folder(runtime.factory, folder=folder) == []
    target.write_bytes(seed_files[1].read_bytes())  # modified: read again
    assert [r.new for r in ingest_folder(runtime.factory, folder=folder)] == [106]


def test_unseen_page_with_card_footers_stores_every_field(runtime: Runtime) -> None:
    page = DATA / "page_with_footers.txt"
    report = ingest_file(runtime.factory, path=page, now=T0)
    assert report.new == 7 and report.rejected == 0
    with session_scope(runtime.factory) as session:
        papers = session.scalars(select(Paper).order_by(Paper.id)).all()
        for paper in papers:
            assert len(paper.abstract) > 200, paper.title
            assert paper.author_count and paper.published, paper.title
            assert (
                "authors" not in paper.title
                and "·" not in paper.title
                and "2025" not in paper.abstract[-12:]
            )
        first = papers[0]
        assert (first.author_count, first.published, first.upvotes) == (9, dt.date(2025, 8, 19), 57)
        assert sum(1 for p in papers if p.upvotes) >= 4
        days = session.scalars(select(Sighting.listed_on)).all()
        assert set(days) == {dt.date(2025, 8, 21)}


def test_tex_stored_before_conversion_becomes_unicode_and_matches_its_topic(
    runtime: Runtime, tmp_path: Path
) -> None:
    from service.ranking.index import RelevanceIndex
    from service.ranking.rank import rank
    from service.records import Topic

    raw = {
        "title": 'Neural solvers for the Schr\\"odinger equation',
        "abstract": "We solve the Schr\\\"odinger equation 85.1\\% faster with $\\alpha$-stable noise.",
        "authors": ["Kad{\\i}o\\u{g}lu"], "arxiv_id": "2501.00042", "arxiv_version": 1,
    }  # fmt: skip
    old = tmp_path / "old.jsonl"  # Paperboy's own format is stored as written: TeX as it was
    old.write_text(json.dumps(raw) + "\n")
    assert ingest_file(runtime.factory, path=old, now=T0).new == 1

    item = {
        "paper": {
            "id": "2501.00042",
            "title": raw["title"],
            "summary": raw["abstract"],
            "authors": [{"name": "Kad{\\i}o\\u{g}lu"}],
        }
    }
    hf = tmp_path / "hf.json"
    hf.write_text(json.dumps([item]))
    report = ingest_file(
        runtime.factory, path=hf, source="hf_daily", now=T0 + dt.timedelta(hours=1)
    )
    assert report.updated == 1
    with session_scope(runtime.factory) as session:
        paper = session.scalar(select(Paper).where(Paper.key == "2501.00042"))
        assert paper.title == "Neural solvers for the Schrödinger equation"
        assert (
            paper.abstract == "We solve the Schrödinger equation 85.1% faster with α-stable noise."
        )
        assert paper.authors == ["Kadıoğlu"]
        candidates = store.candidates_since(session, since=T0 - dt.timedelta(days=1))
    picks = rank(RelevanceIndex(candidates), topics=[Topic("keyword", "Schrödinger equation")])
    assert [p.paper.arxiv_id for p in picks] == ["2501.00042"]
