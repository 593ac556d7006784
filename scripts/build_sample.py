"""Build service/data/sample_listings.jsonl, the bundled demo data, from the three seed pages.

Usage: python scripts/build_sample.py [--seeds DIR] [--out FILE]

The seed pages (tests/data/seeds/000_*.txt, 001_*.txt, 002_*.txt) are saved
Daily Papers pages of three consecutive days. Every listing is written once, in page order
000, 001, 002, the first sighting of a title winning, with source "sample" and the page's day as
listed_on so the demo has dates. Running it again gives the same bytes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import re
import sys
from pathlib import Path

from service.sources.jsonl import dump_jsonl
from service.sources.page_text import parse_page_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SEEDS = REPO / "tests" / "data" / "seeds"
DEFAULT_OUT = REPO / "service" / "data" / "sample_listings.jsonl"
# The pages do not say their year (002 says "Aug 20", the others nothing): the days are given.
PAGE_DAYS = {
    "000": dt.date(2025, 8, 18),
    "001": dt.date(2025, 8, 19),
    "002": dt.date(2025, 8, 20),
}




def title_key(title: str) -> str:
    """Return the title case-folded with punctuation and spacing removed, for de-duplication."""
    return " ".join(re.sub(r"[^\w]+", " ", title.casefold()).split())


def build(seeds: Path) -> str:
    """Return the sample JSON Lines built from the seed pages in seeds."""
    listings = []
    seen: set[str] = set()
    for prefix, day in PAGE_DAYS.items():
        pages = sorted(seeds.glob(f"{prefix}_*.txt"))
        if len(pages) != 1:
            raise SystemExit(f"{seeds}: expected one {prefix}_*.txt page, found {len(pages)}")
        result = parse_page_text(pages[0].read_bytes(), source="sample")
        if result.rejected:
            problems = "; ".join(str(r) for r in result.rejected)
            raise SystemExit(f"{pages[0]}: rejected entries: {problems}")
        for listing in result.listings:
            key = title_key(listing.title)
            if key in seen:
                continue
            seen.add(key)
            listings.append(dataclasses.replace(listing, listed_on=day))
    return dump_jsonl(listings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="the seeds directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSON Lines file")
    args = parser.parse_args(argv)
    seeds = args.seeds
    if not seeds.is_dir():
        raise SystemExit(f"{seeds}: no such seeds directory; pass --seeds DIR")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(build(seeds), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
