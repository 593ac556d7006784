from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

from service.records import Listing
from service.sources import jsonl
from service.sources.hf_json import parse_hf_daily
from service.sources.jsonl import dump_jsonl, parse_jsonl
from service.sources.page_text import parse_page_text

FULL = Listing(
    title="A Paper With Every Field",
    abstract="It has them all.",
    source="hf_daily",
    arxiv_id="2508.13426",
    arxiv_version=2,
    authors=("Ada Lovelace", "Alan Turing"),
    author_count=2,
    categories=("cs.LG", "stat.ML"),
    published=dt.date(2025, 8, 18),
    listed_on=dt.date(2025, 8, 20),
    position=3,
    upvotes=42,
    comments=5,
    stars=1200,
    abstract_url="https://arxiv.org/abs/2508.13426",
    pdf_url="https://arxiv.org/pdf/2508.13426",
    code_url="https://github.com/example/repo",
    project_url="https://example.org/",
    thumbnail_url="https://example.org/t.png",
    ai_summary="Résumé: everything — in UTF-8.",
    ai_keywords=("fields", "records"),
)


def test_every_listing_field_has_exactly_one_converter():
    groups = [jsonl._STR_FIELDS, jsonl._INT_FIELDS, jsonl._DATE_FIELDS, jsonl._TUPLE_FIELDS]
    names = [f.name for f in dataclasses.fields(Listing)]
    assert sorted(name for group in groups for name in group) == sorted(names)


def test_round_trip_of_full_and_minimal_listings():
    listings = [FULL, Listing(title="Only A Title")]
    text = dump_jsonl(listings)
    assert text.count("\n") == 2 and text.endswith("\n")
    result = parse_jsonl(text.encode())
    assert result.listings == listings
    assert result.rejected == []


def test_dump_omits_none_and_empty_fields_and_writes_dates_and_lists():
    minimal, full = (
        json.loads(line) for line in dump_jsonl([Listing(title="T"), FULL]).splitlines()
    )
    assert minimal == {"title": "T", "source": "file"}
    assert full["published"] == "2025-08-18"
    assert full["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert list(full) == [f.name for f in dataclasses.fields(Listing)]  # field order
    assert "Résumé" in dump_jsonl([FULL])  # not \u-escaped


def test_dump_of_nothing_is_empty():
    assert dump_jsonl([]) == ""
    assert parse_jsonl(b"").listings == []


def test_round_trip_of_parsed_real_inputs(seed_bytes, fixtures_dir):
    pages = parse_page_text(seed_bytes("002")).listings
    hf = parse_hf_daily((fixtures_dir / "hf_daily_papers_2025-08-20.json").read_bytes()).listings
    for listings in (pages, hf):
        assert parse_jsonl(dump_jsonl(listings).encode()).listings == listings


def test_source_defaults_to_the_argument_when_the_line_has_none():
    data = b'{"title": "No Source"}\n{"title": "Own Source", "source": "arxiv"}\n'
    result = parse_jsonl(data, source="upload")
    assert [x.source for x in result.listings] == ["upload", "arxiv"]


def test_bad_lines_are_rejected_by_number_and_the_rest_parse():
    lines = [
        '{"title": "Good One", "upvotes": 3}',  # 1
        "",  # 2 blank: skipped, but still counted
        '{"title": "Bad Key", "upvote": 3}',  # 3
        '{"abstract": "no title"}',  # 4
        '{"title": "   "}',  # 5
        '{"title": "Bad Date", "published": "20/08/2025"}',  # 6
        '{"title": "Impossible Date", "listed_on": "2025-02-30"}',  # 7
        '{"title": "Bool Count", "upvotes": true}',  # 8
        '{"title": "Bad List", "authors": "Ada, Alan"}',  # 9
        '{"title": "Truncated", ',  # 10
        '["a", "list"]',  # 11
        '{"title": 42}',  # 12
        '{"title": "Good Two", "published": "2025-08-19", "authors": ["Ada"], "stars": null}',  # 13
    ]
    result = parse_jsonl("\n".join(lines).encode())

    assert [x.title for x in result.listings] == ["Good One", "Good Two"]
    assert result.listings[1].published == dt.date(2025, 8, 19)
    assert result.listings[1].stars is None
    got = {r.where: r.reason for r in result.rejected}
    assert list(got) == [f"line {n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12)]
    assert got["line 3"] == "unknown key 'upvote'"
    assert got["line 4"] == got["line 5"] == "'title' is missing or empty"
    assert "'published'" in got["line 6"] and "YYYY-MM-DD" in got["line 6"]
    assert "'listed_on'" in got["line 7"] and "2025-02-30" in got["line 7"]
    assert got["line 8"] == "'upvotes' must be an integer"
    assert got["line 9"] == "'authors' must be a list of strings"
    assert re.match(r"invalid JSON at column \d+", got["line 10"])
    assert got["line 11"] == "expected a JSON object, got list"
    assert got["line 12"] == "'title' must be a string"


def test_crlf_lines_parse():
    data = b'{"title": "One"}\r\n\r\n{"title": "Two"}\r\n'
    assert [x.title for x in parse_jsonl(data).listings] == ["One", "Two"]
