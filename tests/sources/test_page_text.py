from __future__ import annotations

import datetime as dt
import re

import pytest

from service.errors import SourceError
from service.records import Rejected
from service.sources.page_text import parse_page_text

from .conftest import TEST_DATA

HEADER_TEXT = (
    "Get trending papers",
    "email inbox",
    "Subscribe",
    "Daily Papers",
    "byAK",
    "research community",
)
FOOTER_RE = re.compile(
    r"\d+ authors?\b|·|•|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}, \d{4}"
)

ABSTRACT = (
    "We study a problem that matters. Our method improves on strong baselines across several "
    "benchmarks while using less compute. Experiments on four datasets show consistent gains, "
    "and an ablation isolates the contribution of each component. Code and data are released "
    "so that others can reproduce every number reported in this paper."
)


def page(*lines: str) -> bytes:
    return "\n".join(lines).encode()


def seed_pairs(data: bytes, prefix: str) -> list[tuple[str, str]]:
    """An independent oracle for the seeds: the known header, then strict title/abstract pairs."""
    lines = [line.strip() for line in data.decode().splitlines() if line.strip()]
    if prefix == "002":
        assert lines[:6] == [
            "new",
            "Get trending papers in your email inbox!",
            "Subscribe",
            "Daily Papers",
            "byAK and the research community",
            "Aug 20",
        ]
        body = lines[6:]
    else:
        assert lines[0] == "Get trending papers in your email inbox once a day!"
        assert lines[1] == "Get trending papers in your email inbox!"
        assert lines[2].startswith("Subscribe")
        body = [lines[2].removeprefix("Subscribe"), *lines[3:]]
    assert len(body) % 2 == 0
    return list(zip(body[0::2], body[1::2], strict=True))


# --- the three real seed pages -------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "count"), [("000", 119), ("001", 119), ("002", 102)])
def test_seed_pages_give_exact_counts_and_positions(seed_bytes, prefix, count):
    result = parse_page_text(seed_bytes(prefix))

    assert len(result.listings) == count
    assert result.rejected == []
    assert [listing.position for listing in result.listings] == list(range(1, count + 1))
    assert all(listing.abstract for listing in result.listings)
    assert all(listing.source == "file" for listing in result.listings)


@pytest.mark.parametrize("prefix", ["000", "001", "002"])
def test_seed_titles_and_abstracts_match_the_page_line_for_line(seed_bytes, prefix):
    data = seed_bytes(prefix)
    result = parse_page_text(data, source="seed")

    got = [(listing.title, listing.abstract) for listing in result.listings]
    assert got == [(" ".join(t.split()), " ".join(a.split())) for t, a in seed_pairs(data, prefix)]
    assert {listing.source for listing in result.listings} == {"seed"}


@pytest.mark.parametrize("prefix", ["000", "001", "002"])
def test_seed_titles_and_abstracts_hold_no_header_text(seed_bytes, prefix):
    for listing in parse_page_text(seed_bytes(prefix)).listings:
        for text in (listing.title, listing.abstract):
            assert not any(marker in text for marker in HEADER_TEXT), text[:80]
        assert listing.title not in ("new", "Aug 20")
        assert listing.title == listing.title.strip()
        assert "  " not in listing.title
        assert len(listing.title) < 200 < len(listing.abstract)


@pytest.mark.parametrize(
    ("prefix", "first", "last"),
    [
        (
            "000",
            "Calibration and Uncertainty for multiRater Volume Assessment in multiorgan "
            "Segmentation (CURVAS) challenge results",
            "Amuro & Char: Analyzing the Relationship between Pre-Training and Fine-Tuning of "
            "Large Language Models",
        ),
        (
            "001",
            "Opus: A Quantitative Framework for Workflow Evaluation",
            "Measuring memorization in RLHF for code completion",
        ),
        (
            "002",
            "Warm Up Before You Train: Unlocking General Reasoning in Resource-Constrained Settings",
            "Liquid Neural Network-based Adaptive Learning vs. Incremental Learning for Link Load "
            "Prediction amid Concept Drift due to Network Failures",
        ),
    ],
)
def test_seed_first_and_last_titles(seed_bytes, prefix, first, last):
    listings = parse_page_text(seed_bytes(prefix)).listings
    assert listings[0].title == first  # no "Subscribe" glued on
    assert listings[-1].title == last  # leading space of the saved line stripped


def test_seed_pages_have_no_footers_so_no_year_for_the_listing_day(seed_bytes):
    # 002 says "Aug 20" but no footer gives a year: the day is not recorded.
    for prefix in ("000", "001", "002"):
        result = parse_page_text(seed_bytes(prefix))
        assert result.listed_on is None
        for listing in result.listings:
            assert listing.listed_on is None
            assert listing.author_count is None
            assert listing.published is None
            assert listing.upvotes is None


def test_seed_page_without_blank_lines_parses_the_same(seed_bytes):
    data = seed_bytes("002")
    squeezed = b"\n".join(line for line in data.splitlines() if line.strip())
    assert parse_page_text(squeezed).listings == parse_page_text(data).listings


def test_crlf_and_bom_do_not_change_the_result(seed_bytes):
    data = seed_bytes("000")
    crlf = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    assert parse_page_text(crlf).listings == parse_page_text(data).listings


def test_utf16_with_bom_is_text(seed_bytes):
    data = seed_bytes("001")
    assert (
        parse_page_text(data.decode().encode("utf-16")).listings == parse_page_text(data).listings
    )


# --- card footers ---------------------------------------------------------------------------

FOOTER_PAGE_EXPECTED = [
    # (title start, author_count, published, upvotes)
    ("Sparse Lookahead Decoding", 9, dt.date(2025, 8, 19), 57),
    ("Tide: Benchmarking Temporal Reasoning", 14, dt.date(2025, 8, 20), 31),
    ("Learning to Route Mixture-of-Experts", 1, dt.date(2025, 8, 18), None),
    ("Protein Language Models Know More", 6, dt.date(2025, 8, 14), None),
    ("Agents That Ask", 11, dt.date(2025, 8, 20), 112),
    ("On the Sample Complexity", 3, dt.date(2025, 8, 19), 8),
    ("CityWalker3D", 2, dt.date(2025, 8, 20), 3),
]


def footer_page() -> bytes:
    path = TEST_DATA / "page_with_footers.txt"
    assert path.is_file(), f"missing test data {path}"
    return path.read_bytes()


def test_footers_fill_author_count_date_and_upvotes_of_the_paper_they_follow():
    result = parse_page_text(footer_page())

    assert result.rejected == []
    got = [(x.title, x.author_count, x.published, x.upvotes) for x in result.listings]
    assert len(got) == len(FOOTER_PAGE_EXPECTED)
    for (title, *values), (start, *expected) in zip(got, FOOTER_PAGE_EXPECTED, strict=True):
        assert title.startswith(start)
        assert values == expected, title
    assert [x.position for x in result.listings] == list(range(1, 8))


def test_footer_text_never_becomes_a_title_or_abstract():
    for listing in parse_page_text(footer_page()).listings:
        assert not FOOTER_RE.search(listing.title), listing.title
        assert not FOOTER_RE.search(listing.abstract), listing.abstract[-80:]
        assert len(listing.abstract) > 300


def test_listing_day_takes_its_year_from_the_footer_dates():
    result = parse_page_text(footer_page())
    assert result.listed_on == dt.date(2025, 8, 21)  # header "Aug 21", footers of 2025
    assert {x.listed_on for x in result.listings} == {dt.date(2025, 8, 21)}


def test_footer_page_without_blank_lines_parses_the_same():
    data = footer_page()
    squeezed = b"\n".join(line for line in data.splitlines() if line.strip())
    assert parse_page_text(squeezed) == parse_page_text(data)


def test_footer_variants_on_one_line_in_pieces_and_upvotes_on_their_own_line():
    data = page(
        "First Paper on Footers",
        ABSTRACT,
        "• 1 author · Aug 20, 2025",
        "Second Paper on Footers",
        ABSTRACT,
        "5 authors",  # bullet lost in copying
        "·",
        "Aug 19, 2025",
        "27",  # the upvote count on its own line
        "Third Paper on Footers",
        ABSTRACT,
        "• 12 authors · Aug 18, 2025 1204",
    )
    result = parse_page_text(data)
    assert result.rejected == []
    assert [(x.title, x.author_count, x.published, x.upvotes) for x in result.listings] == [
        ("First Paper on Footers", 1, dt.date(2025, 8, 20), None),
        ("Second Paper on Footers", 5, dt.date(2025, 8, 19), 27),
        ("Third Paper on Footers", 12, dt.date(2025, 8, 18), 1204),
    ]


def test_listing_day_year_across_new_year():
    data = page("Daily Papers", "Jan 2", "A Paper", ABSTRACT, "• 2 authors · Dec 31, 2024 4")
    assert parse_page_text(data).listed_on == dt.date(2025, 1, 2)


def test_listing_day_with_its_own_year():
    data = page("Daily Papers", "Aug 20, 2025", "A Paper", ABSTRACT)
    result = parse_page_text(data)
    assert result.listed_on == dt.date(2025, 8, 20)
    assert [x.title for x in result.listings] == ["A Paper"]
    assert result.listings[0].published is None  # the header day is not the paper's date


# --- malformed entries ----------------------------------------------------------------------


def test_malformed_cards_are_rejected_by_line_and_the_rest_still_parse():
    data = page(
        "Get trending papers in your email inbox!",  # 1
        "SubscribeGood Paper One",  # 2
        ABSTRACT,  # 3
        "Orphan Title Without Abstract",  # 4: the next line is another title
        "Good Paper Two",  # 5
        ABSTRACT + " Two.",  # 6
        ABSTRACT + " A second paragraph with no title.",  # 7
        "Good Paper Three",  # 8
        ABSTRACT,  # 9
        "• 4 authors · Aug 20, 2025 9",  # 10
        "Title Closed By A Footer",  # 11
        "• 3 authors · Aug 20, 2025 2",  # 12
        "Good Paper Four",  # 13
        ABSTRACT,  # 14
        "Dangling Title At The End",  # 15
    )
    result = parse_page_text(data)

    assert [x.title for x in result.listings] == [
        "Good Paper One",
        "Good Paper Two",
        "Good Paper Three",
        "Good Paper Four",
    ]
    # A rejected card keeps its slot: positions are the card order on the page.
    assert [x.position for x in result.listings] == [1, 3, 5, 7]
    assert result.listings[1].abstract.endswith(" Two.")
    assert (result.listings[2].author_count, result.listings[2].upvotes) == (4, 9)
    assert result.listings[3].author_count is None  # the rejected card's footer stays with it
    assert [r.where for r in result.rejected] == ["line 4", "line 7", "line 11", "line 15"]
    reasons = [r.reason for r in result.rejected]
    assert "'Orphan Title Without Abstract'" in reasons[0] and "no abstract" in reasons[0]
    assert "no title" in reasons[1]
    assert "'Title Closed By A Footer'" in reasons[2] and "footer" in reasons[2]
    assert "'Dangling Title At The End'" in reasons[3] and "ends" in reasons[3]
    assert all(isinstance(r, Rejected) for r in result.rejected)


@pytest.mark.parametrize(
    "paragraph",
    [
        # Too long for any title, though a single sentence without a full stop.
        "a run-on line that never ends " * 12,
        # Short, but written as prose: several sentences ending in a full stop.
        "We add a second paragraph to the abstract. It repeats the main claim in other words. "
        "Then it stops, as prose does, with a full stop.",
    ],
)
def test_paragraph_where_a_title_belongs_is_rejected_not_taken_as_title(paragraph):
    data = page("Real Title", ABSTRACT, paragraph.strip(), "Next Title", ABSTRACT)
    result = parse_page_text(data)
    assert [x.title for x in result.listings] == ["Real Title", "Next Title"]
    assert [(r.where, r.reason) for r in result.rejected] == [
        ("line 3", "abstract-like text with no title before it")
    ]


def test_short_abstract_is_still_an_abstract():
    data = page("Tiny Paper", "We prove a lemma.", "Big Paper", ABSTRACT)
    result = parse_page_text(data)
    assert [(x.title, x.abstract) for x in result.listings] == [
        ("Tiny Paper", "We prove a lemma."),
        ("Big Paper", ABSTRACT),
    ]
    assert result.rejected == []


def test_titles_are_stripped_and_inner_whitespace_collapsed():
    data = page("   Deep   Learning\tfor \u00a0 Everything   ", "  " + ABSTRACT + "  ")
    [listing] = parse_page_text(data).listings
    assert listing.title == "Deep Learning for Everything"
    assert listing.abstract == ABSTRACT


def test_a_title_starting_with_subscriber_is_not_unglued():
    data = page("Get trending papers in your email inbox!", "Subscriber Churn Prediction", ABSTRACT)
    assert [x.title for x in parse_page_text(data).listings] == ["Subscriber Churn Prediction"]


# --- empty and unreadable input -------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n\n  \r\n",
        page(
            "new", "Get trending papers in your email inbox!", "Subscribe", "Daily Papers", "Aug 20"
        ),
    ],
)
def test_input_without_papers_gives_an_empty_result(data):
    result = parse_page_text(data)
    assert result.listings == [] and result.rejected == [] and result.listed_on is None


def test_binary_input_raises_source_error_naming_the_problem():
    with pytest.raises(SourceError, match=r"^upload: binary data.*NUL byte at offset 4"):
        parse_page_text(b"\x89PNG\x00\x00\x00\rIHDR", source="upload")


def test_undecodable_input_raises_source_error_naming_the_byte():
    with pytest.raises(SourceError, match=r"^file: not UTF-8 text \(byte 0xe9 at offset 3\)"):
        parse_page_text("Caf\u00e9 paper".encode("latin-1"))
