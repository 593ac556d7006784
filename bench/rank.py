"""Prints how many subscribers per second one run ranks, and the process's peak memory.

    .venv/bin/python bench/rank.py [--subscribers 100000] [--papers 300] [--seed 7]

The candidates are the seed pages' papers (real titles and abstracts, bench/seeds.py), with
invented upvotes (and their gain since yesterday), stars, comments, authors and first-seen times
spread over a week. The subscribers are drawn as real ones look: 1-4 keyword topics from a pool
of 150 phrases (so many share a topic and each distinct topic is scored once per run), some with a
weight, an author topic (10%), an exclude (30%), no topic at all (10%), weekly cadence (15%), their
own floor and trending share, 40 papers already sent, and for 20% of them 3-8 votes on earlier
papers. Everything runs on one core in one process; the figure is the ranking alone (the per-run
index is timed separately), as `delivery.send_due` does it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import random
import resource
import time

from seeds import seed_listings  # bench/ is on sys.path when a script runs

from service.ranking.feedback import Votes
from service.ranking.index import RelevanceIndex
from service.ranking.rank import rank
from service.records import Candidate, Topic

NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
PHRASES = [
    "reinforcement learning", "language models", "diffusion", "video generation", "reasoning",
    "segmentation", "robotics", "graph neural networks", "benchmark", "scaling laws", "retrieval",
    "speech", "3d reconstruction", "optimization", "alignment", "multimodal", "agents", "compression",
    "continual learning", "reward models", "mixture of experts", "quantization", "tokenization",
    "medical imaging", "world models", "code generation", "mathematical reasoning", "vision language",
    "knowledge distillation", "federated learning", "interpretability", "hallucination", "long context",
    "image editing", "text to image", "autonomous driving", "time series", "recommendation",
    "preference optimization", "chain of thought", "instruction tuning", "evaluation", "safety",
    "attention", "transformers", "embeddings", "sparse autoencoders", "uncertainty", "calibration",
    "data augmentation", "synthetic data", "protein", "chemistry", "weather forecasting", "gaussian splatting",
]  # fmt: skip
NAMES = [
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "José Martín",
    "Yann LeCun",
    "Zoë Kravitz",
    "Li Wei",
    "Sara Rossi",
]


def sample_papers(count: int, rng: random.Random) -> list[Candidate]:
    rows = seed_listings()
    papers = []
    for i in range(count):
        row = rows[i % len(rows)]
        papers.append(
            Candidate(
                paper_id=i + 1, key=f"bench{i + 1}", title=row.title, abstract=row.abstract,
                authors=tuple(rng.sample(NAMES, 3)), upvotes=int(rng.paretovariate(1.2) * 3) - 3,
                stars=rng.choice([0, 0, 0, 12, 250, 3000]), comments=rng.choice([0, 0, 1, 3, 9]),
                first_seen=NOW - dt.timedelta(hours=rng.uniform(0, 24 * 7)),
            )
        )  # fmt: skip
    return papers


def subscribers(count: int, papers: list[Candidate], rng: random.Random) -> list[dict]:  # type: ignore[type-arg]
    # Many shared topics, as in real populations: 100 single phrases and 50 two-phrase queries.
    pool = PHRASES + [
        f"{a} {b}" for a, b in (rng.sample(PHRASES, 2) for _ in range(150 - len(PHRASES)))
    ]
    past = [
        dataclasses.replace(p, paper_id=100_000 + p.paper_id, key=f"past{p.paper_id}")
        for p in papers
    ]
    people = []
    for _ in range(count):
        topics: list[Topic] = []
        if rng.random() >= 0.10:
            topics = [
                Topic("keyword", t, rng.choice([1.0, 1.0, 1.0, 2.0, 0.5]))
                for t in rng.sample(pool, rng.randint(1, 4))
            ]
            if rng.random() < 0.10:
                topics.append(Topic("author", rng.choice(NAMES)))
        if rng.random() < 0.30:
            topics.append(Topic("exclude", rng.choice(PHRASES)))
        votes = None
        if rng.random() < 0.20:
            voted = rng.sample(past, rng.randint(3, 8))
            votes = Votes(liked=tuple(voted[::2]), disliked=tuple(voted[1::2]))
        weekly = rng.random() < 0.15
        people.append(
            {
                "topics": topics, "votes": votes, "max_papers": rng.choice([5, 10, 10, 20]),
                "floor": rng.choice([0.3, 0.3, 0.5]), "trending_share": rng.choice([0.0, 0.2, 0.2, 0.5]),
                "since": NOW - dt.timedelta(days=7 if weekly else 1),
                "already_sent": {rng.randint(1, 100_000 + len(papers)) for _ in range(40)},
            }
        )  # fmt: skip
    return people


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lexical", action="store_true", help="Rank without embeddings.")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    papers = sample_papers(args.papers, rng)
    yesterday = {p.paper_id: max(0, (p.upvotes or 0) - rng.randint(0, 30)) for p in papers}
    people = subscribers(args.subscribers, papers, rng)

    scorer = None
    if not args.lexical:  # as a run does: the candidates' vectors are stored, here embedded first
        from service.ranking.semantic import EmbeddingScorer

        start = time.perf_counter()
        scorer = EmbeddingScorer.for_texts(papers)
        print(
            f"embedded the candidates' texts in {time.perf_counter() - start:.1f} s (not part of ranking)"
        )
    start = time.perf_counter()
    index = RelevanceIndex(papers, now=NOW, upvotes_before=yesterday, semantic=scorer)
    built = time.perf_counter() - start
    start = time.perf_counter()
    chosen = 0
    for person in people:
        chosen += len(rank(index, **person))
    seconds = time.perf_counter() - start
    distinct = len({t.text for p in people for t in p["topics"]})
    print(
        f"ranked {len(people):,} subscribers ({distinct} distinct topics, {chosen:,} papers chosen) "
        f"in {seconds:.2f} s = {len(people) / seconds:,.0f} subscribers/s on one core"
        + (
            ""
            if scorer is None
            else ", cold: topic vectors and the quoted sentences embedded on first use"
        )
    )
    if (
        scorer is not None
    ):  # the one-time embedding of topics and sentences is paid: the steady rate
        start = time.perf_counter()
        for person in people:
            rank(index, **person)
        warm = time.perf_counter() - start
        print(
            f"again, with topic and sentence vectors in memory: {warm:.2f} s = "
            f"{len(people) / warm:,.0f} subscribers/s on one core (one-time cost {seconds - warm:.1f} s per process)"
        )
    print(f"index over {len(papers)} candidates built in {built * 1000:.0f} ms")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak memory (max RSS of the process) {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
