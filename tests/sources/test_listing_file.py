from __future__ import annotations

import json

import pytest

from service.errors import SourceError
from service.records import Listing
from service.sources.jsonl import dump_jsonl
from service.sources.listing_file import detect_format, parse_listing_file, read_listing_file

from .conftest import TEST_DATA

OLD = "hf_daily_papers_2024-10-25.json"
NEW = "hf_daily_papers_2025-08-20.json"


def test_detects_the_recorded_and_seed_inputs(seeds_dir, fixtures_dir):
    for path in sorted(seeds_dir.glob("*.txt")):
        assert detect_format(path.read_bytes()) == "page_text", path.name
    assert detect_format((TEST_DATA / "page_with_footers.txt").read_bytes()) == "page_text"
    # One compact line (old) and pretty-printed (new) are both the API's JSON.
    assert detect_format((fixtures_dir / OLD).read_bytes()) == "hf_json"
    assert detect_format((fixtures_dir / NEW).read_bytes()) == "hf_json"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "page_text"),
        (b"[]", "hf_json"),
        (b'  \n[\n  {"paper": {}}\n]\n', "hf_json"),
        (b"\xef\xbb\xbf[{}]", "hf_json"),
        (b"[Re] Reproducing a Result\nWe reproduce it.", "page_text"),
        (b'{"title": "A"}\n{"title": "B"}\n', "jsonl"),
        (b'{"title": "Only one line"}\n', "jsonl"),
        (b'{"title": "A"}\n{"title": "broken\n{"title": "C"}\n', "jsonl"),
        (b'{broken first line\n{"title": "B"}\n{"title": "C"}\n', "jsonl"),
        (b'{"paper": {"id": "2508.00001", "title": "A"}}', "hf_json"),
        (b'{"error": "Invalid date"}', "hf_json"),
        (b'{\n  "paper": {\n    "title": "A"\n  }\n}\n', "hf_json"),
        (b"Daily Papers\nA Title\nAn abstract.", "page_text"),
        (b"\x89PNG\x00\x00", "page_text"),  # and page_text will call it binary
    ],
)
def test_detect_format(data, expected):
    assert detect_format(data) == expected


def test_dumped_listings_are_detected_as_jsonl():
    data = dump_jsonl([Listing(title="A"), Listing(title="B", upvotes=2)]).encode()
    assert detect_format(data) == "jsonl"


def test_parse_listing_file_dispatches_and_labels_the_source(seeds_dir, fixtures_dir):
    old = parse_listing_file((fixtures_dir / OLD).read_bytes(), name=OLD)
    assert len(old.listings) == 29 and {x.source for x in old.listings} == {"file"}
    new = parse_listing_file((fixtures_dir / NEW).read_bytes(), name=NEW, source="import")
    assert len(new.listings) == 14 and {x.source for x in new.listings} == {"import"}
    [page] = sorted(seeds_dir.glob("000_*.txt"))
    assert len(parse_listing_file(page.read_bytes(), name=page.name).listings) == 119
    lines = dump_jsonl([Listing(title="A"), Listing(title="B")]).encode()
    assert [x.title for x in parse_listing_file(lines, name="x.jsonl").listings] == ["A", "B"]


def test_read_listing_file_reads_each_format(tmp_path, seeds_dir, fixtures_dir):
    assert len(read_listing_file(TEST_DATA / "page_with_footers.txt").listings) == 7
    assert len(read_listing_file(fixtures_dir / NEW).listings) == 14
    [page] = sorted(seeds_dir.glob("002_*.txt"))
    assert len(read_listing_file(str(page)).listings) == 102
    path = tmp_path / "listings.jsonl"
    path.write_text(dump_jsonl([Listing(title="A")]), encoding="utf-8")
    # The dumped line carries its own "source", which wins over the argument.
    assert read_listing_file(path, source="mine").listings == [Listing(title="A", source="file")]


def test_missing_file_raises_source_error_naming_the_path(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(SourceError, match=rf"^{missing}: No such file or directory$"):
        read_listing_file(missing)


def test_directory_raises_source_error_naming_the_path(tmp_path):
    with pytest.raises(SourceError, match=rf"^{tmp_path}: Is a directory$"):
        read_listing_file(tmp_path)


def test_parse_errors_name_the_file_not_the_source_label():
    with pytest.raises(
        SourceError, match=r"^today\.json: invalid JSON at line 1 column 3 .*hf_json"
    ):
        parse_listing_file(b"[{x", name="today.json")
    with pytest.raises(SourceError, match=r"^scan\.png: binary data.*page_text"):
        parse_listing_file(b"\x89PNG\x00\x00", name="scan.png")


def test_malformed_entries_stay_local(tmp_path):
    items = [{"paper": {"title": "Fine"}}, {"paper": {}}]
    result = parse_listing_file(json.dumps(items).encode(), name="x.json")
    assert [x.title for x in result.listings] == ["Fine"]
    assert [str(r) for r in result.rejected] == ["item 2: no title"]


def test_missing_data_folder_fails_loudly_instead_of_skipping():
    from .conftest import data_dir

    with pytest.raises(pytest.fail.Exception, match=r"tests/data/no-such-folder not found"):
        data_dir("no-such-folder")
