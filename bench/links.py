"""Prints what ``Pipeline.links`` costs per digest: the signed links of one 11-paper digest
(feedback, steering, manage, unsubscribe, archive) built for the seed papers.

    .venv/bin/python bench/links.py [--digests 2000] [--papers 11]
"""

from __future__ import annotations

import argparse
import time

from seeds import seed_papers  # bench/ is on sys.path when a script runs

from service.delivery.run import Pipeline
from service.records import Reason, ScoredPaper
from service.settings import load_settings
from service.subscribers.tokens import Signer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digests", type=int, default=2000)
    parser.add_argument("--papers", type=int, default=11)
    args = parser.parse_args()
    settings = load_settings(
        secret_key="bench-secret-key-" + "x" * 32, base_url="https://paperboy.example.org"
    )
    pipeline = Pipeline(
        settings=settings, factory=None, renderer=None, signer=Signer(settings.secret_key)
    )  # type: ignore[arg-type]
    pool = seed_papers()
    interests = {"ml": 7, "vision": 8}
    digests = []
    for i in range(args.digests):
        start = (i * args.papers) % (len(pool) - args.papers)
        picks = [
            ScoredPaper(p, 1.0, (Reason('matches "x"', "x", ("x",)),), "ml" if j % 2 else "vision")
            for j, p in enumerate(pool[start : start + args.papers])
        ]
        digests.append((i + 1, [s.paper.paper_id for s in picks], picks))
    pipeline.links(*digests[0], interests)  # warm the caches (signer, title words)
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for subscriber, ids, picks in digests:
            pipeline.links(subscriber, ids, picks, interests)
        best = min(best, (time.perf_counter() - began) / len(digests))
    links = pipeline.links(*digests[0], interests)
    count = (
        3 + sum(len(v) for v in links.feedback.values()) + sum(len(v) for v in links.steer.values())
    )
    print(
        f"Pipeline.links: {args.papers} papers, {count} links: {best * 1e3:.3f} ms a digest (best of 5 x {len(digests)})"
    )


if __name__ == "__main__":
    main()
