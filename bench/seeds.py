"""The papers of the three seed pages (tests/data/seeds): the benchmarks' fixed workload.

The seed pages are saved Daily Papers pages of three consecutive days; they hold titles and
abstracts only. Every paper is kept once, in page order 000, 001, 002, the first sighting of a
title winning: 314 papers. bench/rank_eval.py's judgements are labelled over them; bench/rank.py,
bench/pipeline.py and bench/e2e.py rank or ingest them; bench/build.py and bench/send.py render
them as `seed_papers` fills them in: with invented authors, links, upvotes and stars, as long and
as link-heavy as real digests (the demo's own sample, service/data, is smaller).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from pathlib import Path

from service.records import Candidate, Listing
from service.sources.page_text import parse_page_text

SEEDS = Path(__file__).resolve().parents[1] / "tests" / "data" / "seeds"
# The pages do not say their year (002 says "Aug 20", the others nothing): the days are given.
PAGE_DAYS = {
    "000": dt.date(2025, 8, 18),
    "001": dt.date(2025, 8, 19),
    "002": dt.date(2025, 8, 20),
}
DIGEST_DATE = dt.date(2025, 11, 21)
# Invented names (the real authors of the seed papers are not in the saved pages); a mix of
# scripts and accents so rendering is exercised as with real author lists.
_NAMES = (
    "Ada Quill", "Bram Oterdoom", "Chiara Bellandi", "Dmitri Volk", "Eun-ji Park", "Farah Nasser",
    "Gustav Lind", "Hana Kobayashi", "Ines Câmara", "Jonas Weber", "Kemal Aydın", "Lena Hoffmann",
    "Mateo Ruiz", "Nadia Benali", "Oskar Nyström", "Priya Raman", "Quentin Morel", "Rosa Ortega",
    "Sven Aaltonen", "Tomás Ferreira", "Uma Shankar", "Vera Novak", "Wei Zhang", "Ximena López",
    "Yusuf Demir", "Zoë Kravitz", "Nguyễn Thị Minh", "Søren Dahl", "Aleksandra Wójcik", "Li Na",
)  # fmt: skip


def _dedup_key(title: str) -> str:
    """The title case-folded with punctuation and spacing removed."""
    return " ".join(re.sub(r"[^\w]+", " ", title.casefold()).split())


def seed_listings(seeds: Path = SEEDS) -> list[Listing]:
    """The seed pages' papers, once each, with `listed_on` set to their page's day."""
    listings: list[Listing] = []
    seen: set[str] = set()
    for prefix, day in PAGE_DAYS.items():
        pages = sorted(seeds.glob(f"{prefix}_*.txt"))
        if len(pages) != 1:
            raise SystemExit(f"{seeds}: expected one {prefix}_*.txt page, found {len(pages)}")
        result = parse_page_text(pages[0].read_bytes(), source="seed")
        if result.rejected:
            problems = "; ".join(str(r) for r in result.rejected)
            raise SystemExit(f"{pages[0]}: rejected entries: {problems}")
        for listing in result.listings:
            key = _dedup_key(listing.title)
            if key in seen:
                continue
            seen.add(key)
            listings.append(dataclasses.replace(listing, listed_on=day))
    return listings


def _slug(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower())[:4]) or "paper"


def seed_papers(seed: int = 7) -> list[Candidate]:
    """The 314 seed papers as candidates, with authors, links, upvotes and stars invented."""
    rng = random.Random(seed)
    papers = []
    for i, item in enumerate(seed_listings(), 1):
        arxiv_id = f"2511.{10000 + i:05d}"
        names = rng.sample(_NAMES, min(len(_NAMES), int(rng.paretovariate(1.2)) + 1))
        has_code = rng.random() < 0.5
        papers.append(
            Candidate(
                paper_id=i,
                key=f"arxiv:{arxiv_id}",
                title=item.title,
                abstract=item.abstract,
                arxiv_id=arxiv_id,
                authors=tuple(names),
                author_count=len(names),
                published=DIGEST_DATE - dt.timedelta(days=rng.randint(1, 3)),
                sources=("arxiv", "hf"),
                upvotes=min(int(rng.paretovariate(1.1) * 3), 950),
                stars=rng.randint(5, 4000) if has_code else None,
                abstract_url=f"https://arxiv.org/abs/{arxiv_id}",
                pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
                code_url=f"https://github.com/paperboy-samples/{_slug(item.title)}"
                if has_code
                else None,
                project_url=f"https://{_slug(item.title)}.github.io/"
                if rng.random() < 0.25
                else None,
            )  # fmt: skip
        )
    return papers
