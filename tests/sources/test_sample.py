"""The bundled sample (service/data/sample_listings.jsonl): real recorded responses, parsed."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from service.records import Listing
from service.sources.arxiv_feed import parse_arxiv_feed
from service.sources.jsonl import parse_jsonl

from .conftest import REPO_ROOT

SAMPLE = REPO_ROOT / "service" / "data" / "sample_listings.jsonl"


@pytest.fixture(scope="module")
def build_sample() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_sample", REPO_ROOT / "scripts" / "build_sample.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample() -> list[Listing]:
    result = parse_jsonl(SAMPLE.read_bytes())
    assert result.rejected == []
    return result.listings


def test_bundled_sample_is_what_the_build_script_makes_from_the_recorded_responses(
    build_sample: ModuleType, fixtures_dir: Path
) -> None:
    built = build_sample.build(fixtures_dir)
    assert built == build_sample.build(fixtures_dir)  # deterministic
    assert SAMPLE.read_text(encoding="utf-8") == built, (
        "service/data/sample_listings.jsonl is stale: run python scripts/build_sample.py"
    )


def test_every_sample_paper_has_authors_links_dates_and_its_real_source(
    sample: list[Listing],
) -> None:
    # 14 + 29 Hugging Face papers; arXiv: 4 real cs.AI entries, 62 new or cross-listed stat
    # papers (the 61 replacements revise older papers, so an ingest would not add them), 10 API.
    assert Counter(x.source for x in sample) == {"hf_daily": 43, "arxiv": 76}
    ids = [x.arxiv_id for x in sample]
    assert all(ids) and len(set(ids)) == len(ids)
    for x in sample:
        assert x.title and x.abstract and x.authors, x
        assert x.abstract_url == f"https://arxiv.org/abs/{x.arxiv_id}"
        assert x.pdf_url and x.pdf_url.startswith("https://arxiv.org/pdf/")
        assert x.published or x.listed_on
        if x.source == "arxiv":
            assert x.categories, x
        else:
            assert x.upvotes is not None and x.listed_on is not None, x
    assert sum(1 for x in sample if x.code_url) == 9
    categories = Counter(c for x in sample for c in x.categories)
    assert categories["cs.CL"] == 4 and categories["stat.ML"] == 29


def test_the_sample_leaves_out_invented_entries_and_replacements(
    sample: list[Listing], fixtures_dir: Path
) -> None:
    atom = parse_arxiv_feed((fixtures_dir / "arxiv_atom_cs.AI_2025-08-20.xml").read_bytes())
    invented = {x.arxiv_id for x in atom.listings[4:]}
    rss = parse_arxiv_feed((fixtures_dir / "arxiv_rss_stat_2024-03-26.xml").read_bytes())
    assert len(invented) == 3 and len(rss.update_only) == 61
    ids = {x.arxiv_id for x in sample}
    assert not ids & invented
    assert not ids & rss.update_only
    assert not {"Some Author", "Alice Smith"} & {a for x in sample for a in x.authors}


def test_a_hugging_face_paper_takes_categories_only_from_an_arxiv_record_of_it(
    build_sample: ModuleType,
) -> None:
    hf = Listing(title="Paper", source="hf_daily", arxiv_id="2508.00001", upvotes=5)
    other = Listing(title="Other", source="hf_daily", arxiv_id="2508.00003")
    arxiv = Listing(
        title="Paper", source="arxiv", arxiv_id="2508.00001", categories=("cs.CL", "cs.AI")
    )
    unrelated = Listing(title="Third", source="arxiv", arxiv_id="2508.00002", categories=("cs.LG",))
    merged = build_sample.merge([hf, other, arxiv, unrelated])
    assert [(x.arxiv_id, x.source, x.upvotes, x.categories) for x in merged] == [
        ("2508.00001", "hf_daily", 5, ("cs.CL", "cs.AI")),
        ("2508.00003", "hf_daily", None, ()),
        ("2508.00002", "arxiv", None, ("cs.LG",)),
    ]


def test_sample_starts_with_the_newest_hugging_face_day(sample: list[Listing]) -> None:
    first = sample[0]
    assert (first.source, first.position, first.listed_on) == ("hf_daily", 1, dt.date(2025, 8, 20))
