from __future__ import annotations

import pytest

from service.sources.arxiv_ids import abs_url, parse_arxiv_id, pdf_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2508.13426", ("2508.13426", None)),
        ("2508.13426v2", ("2508.13426", 2)),
        ("arXiv:2508.13426v1", ("2508.13426", 1)),
        ("arxiv:2508.13426", ("2508.13426", None)),
        ("oai:arXiv.org:2508.13426v1", ("2508.13426", 1)),
        ("http://arxiv.org/abs/2202.12139v1", ("2202.12139", 1)),
        ("https://arxiv.org/abs/2202.12139", ("2202.12139", None)),
        ("https://arxiv.org/pdf/2202.12139v1.pdf", ("2202.12139", 1)),
        ("https://arxiv.org/pdf/2202.12139", ("2202.12139", None)),
        ("https://export.arxiv.org/abs/2202.12139v3", ("2202.12139", 3)),
        ("0704.0001", ("0704.0001", None)),  # the first new-style id, four digits
        ("1412.9999v12", ("1412.9999", 12)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("http://arxiv.org/abs/math.GT/0309136v1", ("math.GT/0309136", 1)),
        ("  2508.13426v2\n", ("2508.13426", 2)),
    ],
)
def test_parse_arxiv_id_accepts_every_usual_spelling(text, expected):
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2508.1342",  # too short
        "2508.134267",  # too long
        "2513.12345",  # month 13
        "2500.12345",  # month 0
        "1412.12345",  # five digits before 2015
        "1501.1234",  # four digits from 2015
        "2508.13426v0",  # versions start at 1
        "see 2508.13426",  # an id inside a sentence is not an id
        "2508.13426 is great",
        "https://example.com/abs/2508.13426",
        "10.48550/arXiv.2508.13426",  # a DOI
        "hep-th/990100",  # six digits
        "hep-th/9913001",  # month 13
        "2025.08.20",
    ],
)
def test_parse_arxiv_id_rejects_everything_else(text):
    assert parse_arxiv_id(text) is None


def test_links_are_canonical_https_urls():
    assert abs_url("2508.13426") == "https://arxiv.org/abs/2508.13426"
    assert pdf_url("2508.13426") == "https://arxiv.org/pdf/2508.13426"
    assert abs_url("hep-th/9901001") == "https://arxiv.org/abs/hep-th/9901001"
