"""Liked papers as readers hand them over: ids and URLs, a Zotero BibTeX export, CSL JSON."""

from __future__ import annotations

import json

import pytest

from service.errors import InputError
from service.subscribers import liked_papers
from service.subscribers.liked_papers import (
    MAX_LIKED,
    parse_bibtex,
    parse_csl_json,
    parse_file,
    parse_ids,
)
from tests.support.paths import DATA

LIKED = DATA / "liked"


def test_ids_in_any_spelling_are_one_paper_each_and_words_are_reported() -> None:
    result = parse_ids([
        "2202.12139 arXiv:2405.13786v1, https://arxiv.org/abs/2005.14124v2",
        "http://export.arxiv.org/pdf/2204.08348.pdf\nhep-th/9901001; oai:arXiv.org:2202.12139v3",
        "attention-is-all-you-need 2413.00001",
    ])  # fmt: skip
    assert result.ids == ["2202.12139", "2405.13786", "2005.14124", "2204.08348", "hep-th/9901001"]
    assert result.rejected == [
        "'attention-is-all-you-need' is not an arXiv id or URL",
        "'2413.00001' is not an arXiv id or URL",  # there is no 13th month
    ]


def test_zotero_bibtex_imports_the_good_entries_and_lists_the_rest_with_line_numbers() -> None:
    result = parse_bibtex((LIKED / "zotero_library.bib").read_text())
    assert result.ids == ["2202.12139", "2405.13786", "2204.08348", "2302.03287"]
    assert result.papers[0].title == (
        "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    )
    assert result.papers[3].title == r"ChatGPT and Software Testing Education: Promises \& Perils"
    assert len(result.rejected) == 2
    assert result.rejected[0] == "line 22: entry 'vaswani_attention_2017' has no arXiv id"
    assert result.rejected[1].startswith("line 31: broken entry '@article{broken_2020,'")


def test_an_eprint_of_another_archive_is_not_an_arxiv_id() -> None:
    text = "@article{x, title={T}, eprint={2202.12139}, archivePrefix={HAL}}"
    assert parse_bibtex(text).rejected == ["line 1: entry 'x' has no arXiv id"]


def test_zotero_csl_json_takes_the_id_from_url_doi_or_number() -> None:
    result = parse_csl_json((LIKED / "zotero_library.json").read_text())
    assert result.ids == ["2202.12139", "2503.05378", "2502.07719"]
    assert result.papers[2].title == "OpenCat: Improving Interoperability of ADS Testing"
    assert result.rejected == ["item 3 'Deep learning': no arXiv id"]


def test_a_file_is_read_by_its_content_and_a_bad_one_is_named() -> None:
    assert (
        parse_file("lib.json", (LIKED / "zotero_library.json").read_bytes()).ids[0] == "2202.12139"
    )
    assert parse_file("x.txt", (LIKED / "zotero_library.bib").read_bytes()).ids[-1] == "2302.03287"
    with pytest.raises(InputError, match=r"^lib.json: not a CSL JSON file: line 1"):
        parse_file("lib.json", b"[{,]")
    with pytest.raises(InputError, match=r"^notes.txt: neither BibTeX"):
        parse_file("notes.txt", b"some words")
    with pytest.raises(InputError, match=r"^big.bib: the file is larger than 2 MB"):
        parse_file("big.bib", b"%" * (liked_papers.MAX_FILE_BYTES + 1))


def test_more_than_500_liked_papers_are_refused_with_a_clear_message() -> None:
    ids = [f"2401.{n:05d}" for n in range(1, MAX_LIKED + 2)]
    with pytest.raises(
        InputError, match=r"too many liked papers: 501; an interest holds at most 500"
    ):
        parse_ids(ids)
    assert len(parse_ids(ids[:MAX_LIKED]).ids) == MAX_LIKED
    items = json.dumps([{"URL": f"https://arxiv.org/abs/{i}"} for i in ids])
    with pytest.raises(InputError, match="too many liked papers"):
        parse_csl_json(items)
    with pytest.raises(InputError, match=r"already has 499"):
        liked_papers.check_limit(parse_ids(ids[:2]), already=499)
