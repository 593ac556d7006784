"""`paperboy ingest --file` reads only what it recognises: an arXiv feed as a feed, a saved Daily
Papers page by its marks, and refuses the rest (exit 2, one line, nothing stored)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.main import cli
from service.delivery.runtime import Runtime
from service.errors import SourceError
from service.sources.listing_file import detect_format, parse_listing_file
from service.storage.engine import session_scope
from service.storage.models import Paper

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><description>&lol9;</description></item>
<item><title>Paper</title><description>An abstract.</description></item>
</channel></rss>
"""


def random_text(size: int) -> bytes:
    """Printable junk in lines of random length, as a mistaken upload would be."""
    rng = random.Random(15)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?()-"
    lines, total = [], 0
    while total < size:
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 400)))
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines).encode()


def ingest(runtime: Runtime, path: Path) -> tuple[int, str]:
    env = {"PAPERBOY_DATABASE_URL": runtime.settings.database_url, "PAPERBOY_SEMANTIC": "off"}
    result = CliRunner().invoke(cli, ["ingest", "--file", str(path)], env=env)
    return result.exit_code, result.output


def titles(runtime: Runtime) -> list[str]:
    with session_scope(runtime.factory) as session:
        return [p.title for p in session.query(Paper).all()]


def test_an_arxiv_rss_file_given_without_source_is_read_as_a_feed(
    runtime: Runtime, test_data: Path
) -> None:
    code, output = ingest(runtime, test_data / "arxiv_rss_cs_2025-08-21.xml")
    assert code == 0, output
    stored = titles(runtime)
    # The feed's papers (a replacement of an unknown paper is not news), never its XML lines.
    assert 1 <= len(stored) <= 5
    assert not any("<" in title or "arxiv" in title.lower() for title in stored), stored


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("laughs.xml", LAUGHS, "entity declarations"),
        ("junk.txt", random_text(2_000_000), "not a listing file"),
        ("page.html", b"<!doctype html><html><body><p>Hello</p></body></html>", "feed"),
    ],
)
def test_what_is_no_listing_file_is_refused_and_nothing_stored(
    runtime: Runtime, tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, output = ingest(runtime, path)
    assert code == 2, output
    [said] = [line for line in output.splitlines() if line.startswith("paperboy: ")]
    assert words in said and str(path) in said and "Traceback" not in output
    assert titles(runtime) == []


def test_a_page_most_of_whose_cards_are_rejected_stores_nothing(
    runtime: Runtime, tmp_path: Path, test_data: Path
) -> None:
    page = (test_data / "page_with_footers.txt").read_text(encoding="utf-8")
    header, _, _ = page.partition("Sparse Lookahead Decoding")
    # Titles without abstracts: a page-shaped file that is mostly broken cards.
    broken = header + "\n\n".join(
        f"A title without its abstract number {i}\n\n• 3 authors · Aug 20, 2025 4"
        for i in range(12)
    )
    good = "\n\nA Real Title\n\n" + "An abstract that is long enough. " * 12 + "\n"
    path = tmp_path / "mostly_broken.txt"
    path.write_text(broken + good, encoding="utf-8")
    code, output = ingest(runtime, path)
    assert code == 2 and "12 of 13 entries rejected" in output and "nothing stored" in output, (
        output
    )
    assert titles(runtime) == []


def test_real_pages_and_feeds_still_parse(seed_files: list[Path], test_data: Path) -> None:
    for path in [*seed_files, test_data / "page_with_footers.txt"]:
        result = parse_listing_file(path.read_bytes(), name=path.name)
        assert result.listings and len(result.rejected) * 2 < len(result.listings), path.name
    feed = (test_data / "arxiv_rss_cs_2025-08-21.xml").read_bytes()
    assert detect_format(feed) == "xml"
    assert parse_listing_file(feed, name="feed.xml").listings
    # A copy of the cards without the page's header is still a page: its cards have footers.
    page = (test_data / "page_with_footers.txt").read_text(encoding="utf-8")
    cards = page[page.index("Sparse Lookahead Decoding") :].encode()
    assert len(parse_listing_file(cards, name="cards.txt").listings) >= 5
    with pytest.raises(SourceError, match="not a listing file"):
        parse_listing_file(b"Just some notes\nabout nothing in particular\n", name="notes.txt")
