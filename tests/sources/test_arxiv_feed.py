"""arXiv RSS / Atom feeds and export API answers, parsed from recorded responses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from service.errors import SourceError
from service.sources.arxiv_feed import parse_arxiv, parse_arxiv_feed
from tests.support.paths import DATA


def test_rss_feed_of_a_day(recorded_dir: Path) -> None:
    parsed = parse_arxiv_feed((recorded_dir / "arxiv_rss_stat_2024-03-26.xml").read_bytes())
    assert len(parsed.listings) == 123 and parsed.rejected == []
    assert parsed.listed_on == dt.date(2024, 3, 26) and not parsed.quiet
    # 41 replace + 20 replace-cross only update papers the ledger already has.
    assert len(parsed.update_only) == 61
    first = parsed.listings[0]
    assert first.arxiv_id == "2403.15527" and first.arxiv_version == 1
    assert first.title == "Conformal online model aggregation"
    assert first.authors == ("Matteo Gasparin", "Aaditya Ramdas") and first.author_count == 2
    assert first.categories == ("stat.ML", "cs.LG")
    assert (
        first.abstract.startswith("Conformal prediction equips")
        and "Announce Type" not in first.abstract
    )
    assert (
        first.abstract_url == "https://arxiv.org/abs/2403.15527"
        and first.pdf_url == "https://arxiv.org/pdf/2403.15527"
    )
    assert first.published == dt.date(2024, 3, 26) and first.position == 1
    assert all("\n" not in item.abstract and "\n" not in item.title for item in parsed.listings)


def test_atom_feed(recorded_dir: Path) -> None:
    parsed = parse_arxiv_feed((recorded_dir / "arxiv_atom_cs.AI_2025-08-20.xml").read_bytes())
    assert [item.arxiv_id for item in parsed.listings][:2] == ["2508.13426", "2508.13428"]
    assert parsed.listed_on == dt.date(2025, 8, 20) and parsed.update_only == frozenset()
    assert parsed.listings[0].authors == ("Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang")


def test_export_api_answer(recorded_dir: Path) -> None:
    document = parse_arxiv((recorded_dir / "arxiv_api_query_testing.xml").read_bytes())
    assert document.kind == "api" and document.total_results == 214881 and document.start_index == 0
    first = document.parsed.listings[0]
    assert (first.arxiv_id, first.arxiv_version) == ("2202.12139", 1)
    assert first.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert first.published == dt.date(2022, 2, 24) and first.listed_on is None
    assert len(document.parsed.listings) == 10


def test_empty_feed_is_a_quiet_day(recorded_dir: Path) -> None:
    parsed = parse_arxiv_feed((recorded_dir / "arxiv_rss_test_2024-11-28_empty.xml").read_bytes())
    assert parsed.quiet and parsed.listings == [] and parsed.listed_on == dt.date(2024, 11, 28)


def test_feed_error_is_an_error_not_a_quiet_day(recorded_dir: Path) -> None:
    with pytest.raises(SourceError, match="error feed.*Bad archive 'astroph'"):
        parse_arxiv_feed((recorded_dir / "arxiv_rss_astroph_2024-11-28_error.xml").read_bytes())


def test_truncated_feed_fails_as_a_whole(recorded_dir: Path) -> None:
    data = (recorded_dir / "arxiv_rss_stat_2024-03-26.xml").read_bytes()
    with pytest.raises(SourceError, match="invalid or truncated feed"):
        parse_arxiv_feed(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty response"),
        (b'{"error": "nope"}', "invalid or truncated|not an RSS"),
        (b"<html><body>hi</body></html>", "not an RSS"),
    ],
)
def test_documents_that_are_not_feeds(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_arxiv_feed(data)


def test_api_error_entry() -> None:
    data = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <id>http://arxiv.org/api/Y</id><title>arXiv Query: id_list=bad</title>
  <opensearch:totalResults>1</opensearch:totalResults>
  <entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_bad</id><title>Error</title>
  <summary>incorrect id format for bad</summary></entry>
</feed>"""
    with pytest.raises(SourceError, match="arXiv API error: incorrect id format for bad"):
        parse_arxiv(data)


def test_own_fixture_announce_types_and_a_malformed_item() -> None:
    parsed = parse_arxiv_feed((DATA / "arxiv_rss_cs_2025-08-21.xml").read_bytes())
    assert [item.arxiv_id for item in parsed.listings] == [
        "2508.13167",
        "2508.13426",
        "2401.00001",
        "2508.15001",
    ]
    assert parsed.update_only == {"2508.13426", "2401.00001"}
    assert [(r.where, r.reason) for r in parsed.rejected] == [
        ("item 5", "no arXiv id (id 'https://example.org/not-arxiv')")
    ]
    assert parsed.listings[1].arxiv_version == 2 and parsed.listings[1].published is None
    assert parsed.listings[3].abstract == "We study sparse attention for long contexts."
