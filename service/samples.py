"""Example digests from the bundled sample papers, for benchmarks, screenshots and browser tests.

The sample listings (saved Daily Papers pages) carry only titles and abstracts. A listing from
the Hugging Face API also has authors, arXiv links, upvotes and often code, so `sample_papers`
fills those in, deterministically, to make digests as long and as link-heavy as real ones.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from service.records import Candidate, Digest, DigestLinks, Reason, ScoredPaper, Topic
from service.resources import sample_listings_path
from service.sources.listing_file import read_listing_file
from service.tokens import Signer

BASE_URL = "https://paperboy.example.org"
DIGEST_DATE = dt.date(2025, 11, 21)
# Invented names (the real authors of the sample papers are not in the saved pages); a mix of
# scripts and accents so rendering is exercised as with real author lists.
_NAMES = (
    "Ada Quill", "Bram Oterdoom", "Chiara Bellandi", "Dmitri Volk", "Eun-ji Park", "Farah Nasser",
    "Gustav Lind", "Hana Kobayashi", "Ines Câmara", "Jonas Weber", "Kemal Aydın", "Lena Hoffmann",
    "Mateo Ruiz", "Nadia Benali", "Oskar Nyström", "Priya Raman", "Quentin Morel", "Rosa Ortega",
    "Sven Aaltonen", "Tomás Ferreira", "Uma Shankar", "Vera Novak", "Wei Zhang", "Ximena López",
    "Yusuf Demir", "Zoë Kravitz", "Nguyễn Thị Minh", "Søren Dahl", "Aleksandra Wójcik", "Li Na",
)  # fmt: skip


def _slug(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower())[:4]) or "paper"


def sample_papers(seed: int = 7) -> list[Candidate]:
    """The 314 sample papers as candidates, with authors, links, upvotes and stars filled in."""
    rng = random.Random(seed)
    papers = []
    for i, item in enumerate(read_listing_file(sample_listings_path()).listings, 1):
        arxiv_id = f"2511.{10000 + i:05d}"
        names = rng.sample(_NAMES, min(len(_NAMES), int(rng.paretovariate(1.2)) + 1))
        has_code = rng.random() < 0.5
        papers.append(
            Candidate(
                paper_id=i, key=f"arxiv:{arxiv_id}", title=item.title, abstract=item.abstract,
                arxiv_id=arxiv_id, authors=tuple(names), author_count=len(names),
                published=DIGEST_DATE - dt.timedelta(days=rng.randint(1, 3)), sources=("arxiv", "hf"),
                upvotes=min(int(rng.paretovariate(1.1) * 3), 950), stars=rng.randint(5, 4000) if has_code else None,
                abstract_url=f"https://arxiv.org/abs/{arxiv_id}", pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
                code_url=f"https://github.com/paperboy-samples/{_slug(item.title)}" if has_code else None,
                project_url=f"https://{_slug(item.title)}.github.io/" if rng.random() < 0.25 else None,
            )  # fmt: skip
        )
    return papers


def sample_digest(
    papers: list[Candidate],
    *,
    subscriber: int = 1,
    email: str = "ada.lovelace@example.org",
    topics: tuple[Topic, ...] = (Topic("keyword", "language models"), Topic("keyword", "reasoning")),
    signer: Signer | None = None,
) -> Digest:
    """A digest of `papers` for one subscriber, with signed links shaped like delivery's."""
    signer = signer or Signer("sample-secret-key")
    topic = next((t.text for t in topics if t.kind == "keyword"), "your topics")
    scored = tuple(
        ScoredPaper(p, 1 - j / (len(papers) + 1), (Reason(f'matches "{topic}"'), Reason(f"trending: {p.upvotes or 0} upvotes")))
        for j, p in enumerate(papers)
    )  # fmt: skip
    feedback = {
        p.paper_id: tuple(
            f"{BASE_URL}/feedback/{signer.make('feedback', s=subscriber, p=p.paper_id, v=vote)}" for vote in (1, -1)
        )
        for p in papers
    }
    links = DigestLinks(
        manage=f"{BASE_URL}/manage/{signer.make('manage', s=subscriber)}",
        unsubscribe=f"{BASE_URL}/unsubscribe/{signer.make('unsubscribe', s=subscriber)}",
        feedback=feedback,  # type: ignore[arg-type]
    )
    return Digest(email, DIGEST_DATE, scored, links, topics)
