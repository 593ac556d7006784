"""Prints the bundled embedding model's speed, and records it in bench/results.md.

    taskset -c 0 .venv/bin/python bench/embed.py [--listings 1504] [--no-record]

On SQLite in a temp folder: (1) ingest a feed of ``--listings`` papers (the 314 sample papers
repeated with numbered titles, so each text is new and embedded) including their embeddings;
(2) `paperboy preview` for a subscriber with three keyword topics over those candidates once every
vector is stored, with nothing in memory (a new process's view: each vector is read back from the
database). Papers per second are counted on CPU time of this one process as well as wall time, so
that other work on a shared machine does not count against the model (the model runs on one thread).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner
from results import RESULTS, record_section  # bench/ is on sys.path when a script runs

from service.cli.main import cli
from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.ranking import semantic
from service.resources import sample_listings_path
from service.settings import load_settings

SECTION = "## Embeddings (bench/embed.py)"


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def feed(path: Path, count: int) -> None:
    rows = [json.loads(line) for line in sample_listings_path().read_text().splitlines()]
    with path.open("w") as out:
        for i in range(count):
            row = dict(rows[i % len(rows)])
            row["title"] = f"{row['title']} ({i})"
            row.pop("arxiv_id", None)
            out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=1504)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    affinity = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        runtime = Runtime(load_settings(database_url=url, outbox_dir=folder / "outbox"))
        runtime.migrate()
        semantic.encoder().encode("warm up: load the model before timing")
        path = folder / "feed.jsonl"
        feed(path, args.listings)
        wall, cpu = time.perf_counter(), time.process_time()
        report = ingest_file(runtime.factory, path=path, source="file")
        ingest_wall, ingest_cpu = time.perf_counter() - wall, time.process_time() - cpu
        embedded = semantic.stats["embedded"]
        print(
            f"ingest {report.new} new papers, {report.embedded} embedded: {ingest_wall:.1f} s wall, {ingest_cpu:.1f} s CPU"
        )
        print(f"  = {report.new / ingest_cpu:.1f} papers/s of CPU (ingest + embedding)")

        texts = [semantic.text_of(c) for c in _sample_candidates()]
        wall, cpu = time.perf_counter(), time.process_time()
        for text in texts:
            semantic.encoder().encode(text)
        model_wall, model_cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"model alone: {len(texts)} sample papers, {len(texts) / model_cpu:.1f} papers/s of CPU ({len(texts) / model_wall:.1f} wall)"
        )

        env = {"PAPERBOY_DATABASE_URL": url, "PAPERBOY_OUTBOX_DIR": str(folder / "outbox")}
        runner = CliRunner()
        topics = [
            "language model reasoning",
            "robots that learn from video",
            "medical image segmentation",
        ]
        add = ["subscribers", "add", "reader@example.org", "--max", "10"]
        for topic in topics:
            add += ["--topic", topic]
        assert runner.invoke(cli, add, env=env).exit_code == 0
        semantic._cache.clear()
        semantic.topic_vector.cache_clear()
        before = semantic.stats["embedded"]
        wall, cpu = time.perf_counter(), time.process_time()
        result = runner.invoke(cli, ["preview", "reader@example.org", "--json"], env=env)
        preview_wall, preview_cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert result.exit_code == 0, result.output
        papers_embedded = semantic.stats["embedded"] - before - len(topics)
        print(
            f"preview over {report.new} candidates, vectors stored: {preview_wall:.2f} s wall, {preview_cpu:.2f} s CPU, {papers_embedded} papers embedded"
        )
        runtime.engine.dispose()

    if not args.no_record:
        record_section(SECTION, [
            f"{dt.date.today().isoformat()}, Python {platform.python_version()} on {cpu_name()}, one process on "
            f"{affinity} core(s) (`taskset -c 0`), onnxruntime on one thread. Model: `{semantic.MODEL}` "
            "(service/data/minilm, 35 MB). Rates are per second of this process's CPU time (wall time on "
            "this shared machine in brackets).",
            "",
            "| what | figure |",
            "|---|---:|",
            f"| model alone, {len(texts)} sample papers (title + abstract, ≤ 128 tokens) | {len(texts) / model_cpu:.1f} papers/s ({len(texts) / model_wall:.1f}) |",
            f"| ingest of a {args.listings:,}-listing feed including every embedding ({embedded:,} embedded) | {ingest_cpu:.1f} s ({ingest_wall:.1f} s) = {report.new / ingest_cpu:.1f} papers/s |",
            f"| `paperboy preview`, 3 topics, {report.new:,} candidates, vectors already stored ({papers_embedded} embedded) | {preview_cpu:.2f} s ({preview_wall:.2f} s) |",
        ])  # fmt: skip
        print(
            f"recorded in {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
        )
    sys.stdout.flush()


def _sample_candidates():  # type: ignore[no-untyped-def]
    from service.records import Candidate

    rows = [json.loads(line) for line in sample_listings_path().read_text().splitlines()]
    return [Candidate(i, str(i), r["title"], r.get("abstract", "")) for i, r in enumerate(rows)]


if __name__ == "__main__":
    main()
