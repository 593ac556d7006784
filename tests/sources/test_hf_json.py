from __future__ import annotations

import datetime as dt
import json

import pytest

from service.errors import SourceError
from service.sources.hf_json import parse_hf_daily

OLD = "hf_daily_papers_2024-10-25.json"
NEW = "hf_daily_papers_2025-08-20.json"


@pytest.fixture(scope="module")
def raw(fixtures_dir):
    def load(name: str) -> bytes:
        return (fixtures_dir / name).read_bytes()

    return load


@pytest.mark.parametrize(("name", "count"), [(OLD, 29), (NEW, 14)])
def test_fixture_counts_and_positions(raw, name, count):
    result = parse_hf_daily(raw(name))
    assert len(result.listings) == count
    assert result.rejected == []
    assert [x.position for x in result.listings] == list(range(1, count + 1))
    assert {x.source for x in result.listings} == {"hf_daily"}


def test_tex_in_abstracts_is_stored_as_unicode(raw):
    # The recorded 2024-10-25 response has "85.1\\%" and "\\method" in its JSON.
    abstracts = [x.abstract for x in parse_hf_daily(raw(OLD)).listings]
    zip_fit = next(a for a in abstracts if "ZIP-FIT" in a)
    assert "up to 85.1% faster than baselines" in zip_fit
    assert "65.8% faster than DSIR" in zip_fit
    assert "\\%" not in " ".join(abstracts)
    # An author's own macro is not known: it stays as written, the words around it intact.
    method = next(a for a in abstracts if "method even achieves" in a)
    assert "Llama 3.1 70B with \\method even achieves better performance" in method


def test_tex_in_titles_and_author_names():
    item = {
        "paper": {
            "id": "2501.00001",
            "title": 'Solving the Schr\\"odinger equation with $\\alpha$-stable noise',
            "summary": "We reach 85.1\\% accuracy; 3% of cases need $O(n^2)$ time.",
            "authors": [{"name": "Ay{\\c{s}}e Kad{\\i}o\\u{g}lu"}, {"name": "Paul Erd\\H{o}s"}],
        }
    }
    (listing,) = parse_hf_daily(json.dumps([item]).encode()).listings
    assert listing.title == "Solving the Schrödinger equation with α-stable noise"
    assert listing.abstract == "We reach 85.1% accuracy; 3% of cases need O(n^2) time."
    assert listing.authors == ("Ayşe Kadıoğlu", "Paul Erdős")


@pytest.mark.parametrize("name", [OLD, NEW])
def test_titles_and_abstracts_have_line_breaks_collapsed(raw, name):
    items = json.loads(raw(name))
    result = parse_hf_daily(raw(name))
    for item, listing in zip(items, result.listings, strict=True):
        assert "\n" not in listing.title and "  " not in listing.title
        assert "\n" not in listing.abstract and "  " not in listing.abstract
        assert listing.title == " ".join(item["paper"]["title"].split())
        summary = item["paper"]["summary"]
        if "\\" not in summary and "$" not in summary:  # TeX: see test_tex_in_abstracts_*
            assert listing.abstract == " ".join(summary.split())
        assert listing.abstract


def test_old_fixture_wrapped_titles_are_joined(raw):
    items = json.loads(raw(OLD))
    # The recorded file keeps arXiv's line wraps in 16 of 29 titles.
    assert sum("\n" in item["paper"]["title"] for item in items) == 16
    first = parse_hf_daily(raw(OLD)).listings[0]
    assert first.title == (
        "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    )


def test_old_schema_fields(raw):
    result = parse_hf_daily(raw(OLD))
    first = result.listings[0]
    assert first.arxiv_id == "2410.17243"
    assert first.arxiv_version is None
    assert first.abstract_url == "https://arxiv.org/abs/2410.17243"
    assert first.pdf_url == "https://arxiv.org/pdf/2410.17243"
    assert first.published == dt.date(2024, 10, 22)
    assert first.upvotes == 64
    assert first.comments == 3
    assert first.author_count == 9 == len(first.authors)
    assert first.authors[:2] == ("Zesen Cheng", "Hang Zhang")
    assert first.thumbnail_url == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.17243.png"
    )
    # The older schema has none of the newer fields.
    for listing in result.listings:
        assert listing.ai_summary is None
        assert listing.ai_keywords == ()
        assert listing.code_url is None and listing.stars is None and listing.project_url is None


def test_old_schema_listing_day_is_the_outer_published_at(raw):
    result = parse_hf_daily(raw(OLD))
    assert result.listed_on == dt.date(2024, 10, 25)
    assert {x.listed_on for x in result.listings} == {dt.date(2024, 10, 25)}


def test_hidden_authors_are_kept(raw):
    listing = parse_hf_daily(raw(OLD)).listings[20]  # its first author is "hidden": true
    assert listing.arxiv_id == "2410.17897"
    assert listing.authors[0] == "Zhanchao Zhou"
    assert listing.author_count == len(listing.authors) == 4


def test_new_schema_fields(raw):
    result = parse_hf_daily(raw(NEW))
    first = result.listings[0]
    assert first.arxiv_id == "2508.13167"
    assert first.title == (
        "Chain-of-Agents: End-to-End Agent Foundation Models via Multi-Agent Distillation and "
        "Agentic RL"
    )
    assert first.published == dt.date(2025, 8, 6)
    assert first.upvotes == 37 and first.comments == 4 and first.stars == 32
    assert first.code_url == "https://github.com/OPPO-PersonalAI/Agent_Foundation_Models"
    assert first.project_url == "https://chain-of-agents-afm.github.io/"
    assert first.author_count == 30
    assert first.ai_summary.startswith("Chain-of-Agents (CoA) paradigm enables")
    assert first.ai_keywords[:2] == ("large language models", "multi-agent systems")
    assert len(first.ai_keywords) == 18
    for listing in result.listings:
        assert listing.ai_summary and "\n" not in listing.ai_summary
        assert listing.ai_keywords


def test_new_schema_repo_without_stars(raw):
    listing = parse_hf_daily(raw(NEW)).listings[6]
    assert listing.code_url == "https://github.com/Xuzhenhua55/awesome-llm-copyright-protection"
    assert listing.stars is None


def test_new_schema_listing_day_is_submitted_on_daily_at(raw):
    result = parse_hf_daily(raw(NEW))
    # The outer publishedAt of this schema is the paper's time (Aug 5..19), not the listing day.
    assert result.listed_on == dt.date(2025, 8, 20)
    assert {x.listed_on for x in result.listings} == {dt.date(2025, 8, 20)}


def test_new_schema_item_without_submitted_on_daily_at_does_not_borrow_outer_published_at():
    items = [
        {"paper": {"id": "2508.00001", "title": "A", "submittedOnDailyAt": "2025-08-20T01:00:00Z"}},
        {"publishedAt": "2025-08-06T13:01:02.000Z", "paper": {"id": "2508.00002", "title": "B"}},
    ]
    result = parse_hf_daily(json.dumps(items).encode())
    assert [x.listed_on for x in result.listings] == [dt.date(2025, 8, 20), None]


def test_bad_items_are_rejected_by_number_and_the_rest_parse():
    items = [
        {"paper": {"id": "2508.00001", "title": "Good One", "summary": "Text\nwrapped."}},
        "not an item",
        {"paper": {"id": "2508.00003", "summary": "no title here"}},
        {"paper": 5},
        {"id": "2501.00005v2", "title": "Bare Paper Object", "upvotes": 7},
        42,
        {"paper": {"id": "2508.00007", "title": "   "}},
        None,
    ]
    result = parse_hf_daily(json.dumps(items).encode())

    assert [(x.title, x.position) for x in result.listings] == [
        ("Good One", 1),
        ("Bare Paper Object", 5),
    ]
    assert result.listings[0].abstract == "Text wrapped."
    bare = result.listings[1]
    assert (bare.arxiv_id, bare.arxiv_version, bare.upvotes) == ("2501.00005", 2, 7)
    assert [(r.where, r.reason) for r in result.rejected] == [
        ("item 2", "not an object but a string"),
        ("item 3", "no title"),
        ("item 4", "'paper' is not an object but a number"),
        ("item 6", "not an object but a number"),
        ("item 7", "no title"),
        ("item 8", "not an object but null"),
    ]


def test_unknown_missing_and_mistyped_fields_are_tolerated():
    items = [
        {
            "paper": {
                "id": "not-an-arxiv-id",
                "title": "Odd",
                "upvotes": "many",
                "githubStars": True,
                "authors": [{"name": "A"}, {"name": ""}, {"hidden": True}, "x"],
                "ai_keywords": "not a list",
                "brandNewField": {"x": 1},
            },
            "numComments": None,
            "organization": {"name": "Org"},
        }
    ]
    [listing] = parse_hf_daily(json.dumps(items).encode()).listings
    assert listing.arxiv_id is None and listing.abstract_url is None and listing.pdf_url is None
    assert listing.upvotes is None and listing.stars is None and listing.comments is None
    assert listing.authors == ("A",)  # empty names skipped
    assert listing.author_count == 4
    assert listing.ai_keywords == ()
    assert listing.published is None and listing.listed_on is None


def test_empty_list_is_an_empty_result():
    result = parse_hf_daily(b"[]")
    assert result.listings == [] and result.rejected == [] and result.listed_on is None


def test_invalid_json_raises_source_error_naming_the_position(raw):
    truncated = raw(NEW)[:300]
    with pytest.raises(SourceError, match=r"^hf_daily: invalid JSON at line \d+ column \d+"):
        parse_hf_daily(truncated)
    with pytest.raises(SourceError, match=r"line 1 column 3 \(char 2\)"):
        parse_hf_daily(b"[{x", source="hf_daily")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"error": "Invalid date"}, "error: 'Invalid date'"),
        ({"papers": []}, "expected a JSON list"),
        ("just a string", "expected a JSON list"),
    ],
)
def test_top_level_other_than_a_list_raises(document, message):
    with pytest.raises(SourceError, match=message):
        parse_hf_daily(json.dumps(document).encode())


def test_a_single_item_object_is_one_item():
    item = {"paper": {"id": "2508.00001", "title": "Alone"}}
    assert [x.title for x in parse_hf_daily(json.dumps(item).encode()).listings] == ["Alone"]


def test_undecodable_bytes_raise_source_error():
    with pytest.raises(SourceError, match="not UTF-8"):
        parse_hf_daily(b'[{"paper": {"title": "\xff"}}]')
