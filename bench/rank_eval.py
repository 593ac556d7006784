"""Prints precision@5, precision@10 and nDCG@10 of the ranking on a labelled set.

    .venv/bin/python bench/rank_eval.py [--per-topic]

The papers are the 314 of the three seed pages (tests/data/seeds, read by bench/seeds.py), and the judgements are in
bench/rank_eval_labels.json: 11 topics, each with the papers judged relevant by reading them.
Each seed page (one listing day) in turn is today's candidates, ranked for a subscriber with that
one topic, as ``rank`` does for a digest of 10 (default relevance floor, no trending share: the
pages carry no upvotes). Methods:

* lexical: BM25-based relevance (service/rank.py);
* lexical + feedback: the same subscriber first received the lexical top 10 of each of the two
  other days and voted up every relevant paper and down every other one (simulated votes);
* semantic and semantic + feedback, when ``paperboy[semantic]`` is installed.

Figures are means over (topic, day) pairs that have at least one relevant paper that day. A
digest with fewer than 10 papers counts its empty places as misses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from seeds import seed_listings  # bench/ is on sys.path when a script runs

from service.diff import title_key
from service.feedback import Votes
from service.rank import RelevanceIndex, SemanticScorer, rank
from service.records import Candidate, Topic
from service.settings import Settings

LABELS = Path(__file__).with_name("rank_eval_labels.json")
DIGEST = 10


def load_papers() -> dict[str, list[Candidate]]:
    """The seed papers by listing day."""
    days: dict[str, list[Candidate]] = {}
    for i, listing in enumerate(seed_listings(), start=1):
        assert listing.listed_on is not None
        day = listing.listed_on.isoformat()
        first_seen = dt.datetime.combine(listing.listed_on, dt.time(), tzinfo=dt.UTC)
        days.setdefault(day, []).append(
            Candidate(
                paper_id=i,
                key=title_key(listing.title),
                title=listing.title,
                abstract=listing.abstract,
                first_seen=first_seen,
            )
        )
    return days


def precision(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return sum(1 for key in ranked[:k] if key in relevant) / k


def ndcg(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, key in enumerate(ranked[:k]) if key in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def simulated_votes(
    history: list[list[Candidate]], topic: str, relevant: set[str], floor: float
) -> Votes:
    """Votes of a subscriber who read the lexical top 10 of each earlier day."""
    liked, disliked = [], []
    for papers in history:
        for scored in rank(
            RelevanceIndex(papers), topics=[Topic("keyword", topic)], max_papers=DIGEST, floor=floor
        ):
            (liked if scored.paper.key in relevant else disliked).append(scored.paper)
    return Votes(tuple(liked), tuple(disliked))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-topic", action="store_true", help="Also print each topic's figures.")
    args = parser.parse_args()
    floor = Settings().relevance_floor
    labels = {
        topic: set(entry["relevant"])
        for topic, entry in json.loads(LABELS.read_text(encoding="utf-8"))["topics"].items()
    }
    days = load_papers()
    known = {p.key for papers in days.values() for p in papers}
    for topic, keys in labels.items():
        missing = keys - known
        assert not missing, f"{topic}: labelled papers not in the seed pages: {sorted(missing)[:3]}"

    scorer: Callable[[list[Candidate]], SemanticScorer] | None = None
    try:
        from service import semantic

        if semantic.available():
            scorer = semantic.EmbeddingScorer
    except ImportError:  # pragma: no cover - the module itself has no optional imports
        scorer = None
    methods = ["lexical", "lexical + feedback"] + (
        ["semantic", "semantic + feedback"] if scorer else []
    )
    results: dict[str, list[tuple[str, str, float, float, float]]] = {m: [] for m in methods}
    for day, papers in sorted(days.items()):
        history = [other for d, other in sorted(days.items()) if d != day]
        lexical = RelevanceIndex(papers)
        semantic_index = RelevanceIndex(papers, semantic=scorer(papers)) if scorer else None
        for topic, relevant in labels.items():
            if not relevant & {p.key for p in papers}:
                continue
            votes = simulated_votes(history, topic, relevant, floor)
            runs = {"lexical": (lexical, None), "lexical + feedback": (lexical, votes)}
            if semantic_index is not None:
                runs |= {
                    "semantic": (semantic_index, None),
                    "semantic + feedback": (semantic_index, votes),
                }
            for method, (index, vote) in runs.items():
                ranked = [
                    s.paper.key
                    for s in rank(
                        index,
                        topics=[Topic("keyword", topic)],
                        max_papers=DIGEST,
                        floor=floor,
                        votes=vote,
                    )
                ]
                results[method].append(
                    (
                        topic,
                        day,
                        precision(ranked, relevant, 5),
                        precision(ranked, relevant, 10),
                        ndcg(ranked, relevant, 10),
                    )
                )
    pairs = len(results["lexical"])
    print(
        f"{len(labels)} topics, {sum(len(p) for p in days.values())} papers over {len(days)} days, {pairs} (topic, day) pairs with a relevant paper"
    )
    if not scorer:
        print("semantic: skipped (the paperboy[semantic] extra is not installed)")
    print(f"{'method':<22} {'P@5':>6} {'P@10':>6} {'nDCG@10':>8}")
    for method, rows in results.items():
        p5, p10, n10 = (sum(r[i] for r in rows) / len(rows) for i in (2, 3, 4))
        print(f"{method:<22} {p5:6.3f} {p10:6.3f} {n10:8.3f}")
    if args.per_topic:
        for topic in labels:
            line = f"  {topic:<42}"
            for method, rows in results.items():
                mine = [r for r in rows if r[0] == topic]
                if mine:
                    line += f" {method}: nDCG@10 {sum(r[4] for r in mine) / len(mine):.2f}"
            print(line)


if __name__ == "__main__":
    main()
