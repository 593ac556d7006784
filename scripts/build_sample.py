"""Build service/data/sample_listings.jsonl, the bundled demo data, from recorded real responses.

Usage: python scripts/build_sample.py [--recorded DIR] [--out FILE]

The inputs are the real Hugging Face and arXiv responses the tests replay (tests/data/recorded,
described in tests/data/SOURCES.md), read by Paperboy's own parsers, so every paper has what a
live ingest would give it: authors, arXiv id, abstract and PDF links, dates, and its source's own
fields (Hugging Face: upvotes, comments, code and project links, stars; arXiv: categories).

- Only papers an ingest would add are kept: an arXiv feed's `replace` / `replace-cross` entries
  revise papers announced on earlier days, so they are left out as ingest leaves them out.
- arxiv_atom_cs.AI_2025-08-20.xml: only its first four entries are real (the repository it comes
  from hand-edited entry 5 and invented 6 and 7), so only those are kept.
- A paper in several inputs is written once, the first sighting winning (Hugging Face first:
  it has upvotes and code links); a Hugging Face listing, which never names categories, takes
  those of the arXiv record of the same paper. Nothing is filled in otherwise.

Running it again gives the same bytes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from service.records import Listing, ParseResult
from service.sources.arxiv_feed import parse_arxiv_feed
from service.sources.hf_json import parse_hf_daily
from service.sources.jsonl import dump_jsonl

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RECORDED = REPO / "tests" / "data" / "recorded"
DEFAULT_OUT = REPO / "service" / "data" / "sample_listings.jsonl"

Parser = Callable[[bytes], ParseResult]
# (file, parser, how many leading entries are real: None for all), in the order they are written.
INPUTS: tuple[tuple[str, Parser, int | None], ...] = (
    ("hf_daily_papers_2025-08-20.json", lambda data: parse_hf_daily(data, source="hf_daily"), None),
    ("hf_daily_papers_2024-10-25.json", lambda data: parse_hf_daily(data, source="hf_daily"), None),
    ("arxiv_atom_cs.AI_2025-08-20.xml", lambda data: parse_arxiv_feed(data, source="arxiv"), 4),
    ("arxiv_rss_stat_2024-03-26.xml", lambda data: parse_arxiv_feed(data, source="arxiv"), None),
    ("arxiv_api_query_testing.xml", lambda data: parse_arxiv_feed(data, source="arxiv"), None),
)


def read_input(path: Path, parse: Parser, real_entries: int | None) -> list[Listing]:
    """The listings of one recorded response that an ingest would add as papers."""
    result = parse(path.read_bytes())
    if result.rejected:
        problems = "; ".join(str(r) for r in result.rejected)
        raise SystemExit(f"{path}: rejected entries: {problems}")
    return [
        listing
        for listing in result.listings
        if listing.arxiv_id not in result.update_only
        and (real_entries is None or (listing.position or 0) <= real_entries)
    ]


def merge(listings: list[Listing]) -> list[Listing]:
    """One listing per paper (by arXiv id), the first kept, categories taken from a later one."""
    categories: dict[str, tuple[str, ...]] = {}
    for listing in listings:
        if listing.arxiv_id and listing.categories:
            categories.setdefault(listing.arxiv_id, listing.categories)
    merged: list[Listing] = []
    seen: set[str] = set()
    for listing in listings:
        key = listing.arxiv_id or listing.title
        if key in seen:
            continue
        seen.add(key)
        if not listing.categories and listing.arxiv_id in categories:
            listing = dataclasses.replace(listing, categories=categories[listing.arxiv_id])
        merged.append(listing)
    return merged


def build(recorded: Path) -> str:
    """Return the sample JSON Lines built from the recorded responses in `recorded`."""
    listings: list[Listing] = []
    for name, parse, real_entries in INPUTS:
        path = recorded / name
        if not path.is_file():
            raise SystemExit(f"{path}: missing recorded response")
        listings.extend(read_input(path, parse, real_entries))
    return dump_jsonl(merge(listings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recorded", type=Path, default=DEFAULT_RECORDED, help="the recorded responses directory"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSON Lines file")
    args = parser.parse_args(argv)
    if not args.recorded.is_dir():
        raise SystemExit(f"{args.recorded}: no such directory; pass --recorded DIR")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(build(args.recorded), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
