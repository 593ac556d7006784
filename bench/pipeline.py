"""Prints throughput figures of each pipeline stage on this machine, on SQLite in a temp folder.

    .venv/bin/python bench/pipeline.py [--subscribers 2000] [--digests 200]

Stages: ingest (listings per second, the 314 seed-page papers of bench/seeds.py as JSON Lines and
a synthetic 10,000-listing file), rank (subscribers ranked per second over those 314 candidates,
one index per run), and
build (finished messages per second: render with the CSS inlined once, MIME, wire bytes;
bench/build.py compares that with the naive path).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import time
from pathlib import Path

from seeds import seed_listings  # bench/ is on sys.path when a script runs

from service.delivery.run import Pipeline
from service.delivery.runtime import Runtime
from service.digest.message import build_message, wire_bytes
from service.digest.render import Renderer
from service.ledger.ingest import ingest_file
from service.ranking.index import RelevanceIndex
from service.ranking.rank import rank
from service.records import Digest, Topic
from service.resources import templates_dir
from service.settings import load_settings
from service.sources.jsonl import dump_jsonl
from service.storage.engine import session_scope
from service.storage.store import candidates_since

TOPICS = [
    "reinforcement learning", "language models", "diffusion", "video generation", "reasoning",
    "segmentation", "robotics", "graph neural networks", "benchmark", "scaling laws", "retrieval",
    "speech", "3d reconstruction", "optimization", "alignment", "multimodal", "agents", "compression",
]  # fmt: skip
NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)


def timed(label: str, count: int, unit: str, fn) -> object:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<40} {count:>7} {unit} in {seconds:7.2f} s = {count / seconds:10,.0f} {unit}/s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--digests", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings(
            database_url=f"sqlite:///{folder / 'bench.db'}", outbox_dir=folder / "outbox"
        )
        runtime = Runtime(settings)
        runtime.migrate()

        seeds = folder / "seeds.jsonl"
        seeds.write_text(dump_jsonl(seed_listings()), encoding="utf-8")
        timed(
            "ingest seed papers (new)",
            314,
            "listings",
            lambda: ingest_file(runtime.factory, path=seeds, source="sample", now=NOW),
        )
        timed(
            "ingest seed papers again (unchanged)",
            314,
            "listings",
            lambda: ingest_file(runtime.factory, path=seeds, source="sample", now=NOW),
        )
        synthetic = folder / "synthetic.jsonl"
        words = " ".join(TOPICS).split()
        with synthetic.open("w") as out:
            for i in range(10_000):
                title = f"{' '.join(rng.sample(words, 6))} {i}"
                out.write(
                    json.dumps(
                        {
                            "title": title,
                            "abstract": " ".join(rng.choices(words, k=150)),
                            "upvotes": rng.randint(0, 200),
                        }
                    )
                    + "\n"
                )
        timed(
            "ingest synthetic (new)",
            10_000,
            "listings",
            lambda: ingest_file(runtime.factory, path=synthetic, now=NOW),
        )

        with session_scope(runtime.factory) as session:
            candidates = [
                c
                for c in candidates_since(session, since=NOW - dt.timedelta(days=1))
                if c.key.startswith("title:") and c.abstract and not c.title[-1].isdigit()
            ]
        index = timed(
            "build relevance index", len(candidates), "papers", lambda: RelevanceIndex(candidates)
        )
        people = [
            [Topic("keyword", t) for t in rng.sample(TOPICS, rng.randint(1, 4))]
            for _ in range(args.subscribers)
        ]
        results = timed(
            f"rank ({len(candidates)} candidates)", args.subscribers, "subscribers",
            lambda: [rank(index, topics=topics, max_papers=20) for topics in people],
        )  # fmt: skip

        renderer = Renderer(templates_dir())
        pipeline = Pipeline(
            settings=settings, factory=runtime.factory, renderer=renderer, signer=runtime.signer
        )
        digests = [
            Digest(email=f"user{i}@example.org", digest_date=NOW.date(), papers=tuple(results[i % len(results)]),
                   links=pipeline.links(i, [p.paper.paper_id for p in results[i % len(results)]]), topics=tuple(people[i % len(people)]))
            for i in range(args.digests)
        ]  # fmt: skip

        def build() -> None:
            for digest in digests:
                rendered = renderer.render(digest)
                wire_bytes(build_message(rendered, to=digest.email, from_addr=settings.from_address, base_url=settings.base_url,
                                         unsubscribe_url=digest.links.unsubscribe, list_id="digest.example.org", date=NOW))  # fmt: skip

        papers = sum(len(d.papers) for d in digests) / max(len(digests), 1)
        timed(f"build messages (~{papers:.0f} papers each)", args.digests, "messages", build)
        runtime.engine.dispose()


if __name__ == "__main__":
    main()
