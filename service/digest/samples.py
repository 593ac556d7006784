"""Example digests from the bundled sample papers, for benchmarks, screenshots and browser tests.

The sample listings are real Hugging Face and arXiv responses (scripts/build_sample.py), so a
sample paper has its real authors, links, categories, dates and, from Hugging Face, upvotes.
"""

from __future__ import annotations

import datetime as dt

from service.ranking.index import RelevanceIndex
from service.ranking.rank import rank
from service.records import Candidate, Digest, Reason, ScoredPaper, Topic
from service.resources import sample_listings_path
from service.sources.listing_file import read_listing_file
from service.subscribers.paper_links import digest_links
from service.subscribers.tokens import Signer

BASE_URL = "https://paperboy.example.org"
DIGEST_DATE = dt.date(2025, 11, 21)
TOPICS = (Topic("keyword", "language models"), Topic("keyword", "reasoning"))


def sample_papers() -> list[Candidate]:
    """The bundled sample papers as candidates, with what their listings say and nothing more."""
    papers = []
    for i, item in enumerate(read_listing_file(sample_listings_path()).listings, 1):
        papers.append(
            Candidate(
                paper_id=i,
                key=f"arxiv:{item.arxiv_id}" if item.arxiv_id else f"sample:{i}",
                title=item.title,
                abstract=item.abstract,
                arxiv_id=item.arxiv_id,
                authors=item.authors,
                author_count=item.author_count,
                categories=item.categories,
                published=item.published,
                sources=(item.source,),
                upvotes=item.upvotes,
                comments=item.comments,
                stars=item.stars,
                abstract_url=item.abstract_url,
                pdf_url=item.pdf_url,
                code_url=item.code_url,
                project_url=item.project_url,
                ai_summary=item.ai_summary,
            )  # fmt: skip
        )
    return papers


def sample_digest(
    papers: list[Candidate],
    *,
    subscriber: int = 1,
    email: str = "ada.lovelace@example.org",
    topics: tuple[Topic, ...] = TOPICS,
    signer: Signer | None = None,
) -> Digest:
    """A digest of `papers` for one subscriber, with the links delivery gives a digest (the same
    function makes them: one signed token, more / less like this, mute, not interested)."""
    topic = next((t.text for t in topics if t.kind == "keyword"), "your topics")
    scored = tuple(
        ScoredPaper(p, 1 - j / (len(papers) + 1), (Reason(f'matches "{topic}"'), *([Reason(f"trending: {p.upvotes} upvotes")] if p.upvotes else [])))
        for j, p in enumerate(papers)
    )  # fmt: skip
    return _with_links(scored, subscriber=subscriber, email=email, topics=topics, signer=signer)


def _with_links(
    scored: tuple[ScoredPaper, ...], *, subscriber: int = 1, email: str = "ada.lovelace@example.org",
    topics: tuple[Topic, ...] = TOPICS, signer: Signer | None = None,
) -> Digest:  # fmt: skip
    """The digest of these picks, with the links delivery's ``digest_links`` gives them."""
    signer = signer or Signer("sample-secret-key")
    ids = [p.paper.paper_id for p in scored]
    return Digest(
        email, DIGEST_DATE, scored, digest_links(signer, BASE_URL, subscriber, ids, scored), topics
    )


def ranked_sample_digest(
    topics: tuple[Topic, ...] = TOPICS, *, max_papers: int = 20, trending_share: float = 0.2
) -> Digest:
    """The sample papers ranked for `topics` as delivery ranks them, with the ranker's reasons."""
    picks = rank(
        RelevanceIndex(sample_papers()),
        topics=topics,
        max_papers=max_papers,
        trending_share=trending_share,
    )
    return _with_links(tuple(picks), topics=topics)
