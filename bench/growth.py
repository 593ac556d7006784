"""Database growth across pruning: do `deliveries` + `delivery_items` stop growing once the
retention window has filled, and does never-twice still hold?

    .venv/bin/python bench/growth.py [--subscribers 2000] [--days 25] [--no-record]

A private PostgreSQL (fsync on, bench/e2e.py's BenchPostgres), `paperboy db upgrade` and
`--subscribers` generated subscribers (bench/population.py, about 10 % weekly) inserted by
`e2e.py populate`. Then one simulated day after another from 2026-10-01:

1. `paperboy ingest --file day.jsonl --json`: 100 fresh papers (the seed pages' titles and
   abstracts in rotation, bench/seeds.py, with new arXiv ids and a day tag in the title, so no
   paper is an update of an earlier one), `listed_on` the day;
2. `paperboy send --date DAY --json`, PAPERBOY_DELIVERY_QUEUE=inline, to the lean counting SMTP
   sink: every daily subscriber, and every weekly one whose week is up, gets a digest. A digest's
   candidates are the papers first seen since the subscriber's previous digest was sent
   (real clock: `first_seen` is the ingest's time), so each day's papers are that day's news;
3. never-twice: the (subscriber, paper) pairs sent that day, read before pruning, must not be in
   the set of pairs sent on any earlier day (kept in memory across pruning);
4. `prune` in-process as of the day 12:00 UTC with PAPERBOY_DELIVERY_RETENTION_DAYS=9 (the
   minimum: the candidate window 7 + 2), then plain VACUUM of both tables (autovacuum's
   stand-in); the rows kept and pg_total_relation_size of both tables (indexes and TOAST
   included) are recorded.

Growth per digest is (bytes on the last day − bytes on the first day that pruned anything) /
digests sent after that first day; with a 10-day window and weekly subscribers the kept rows
follow a 7-day rhythm, so the default 25 days puts the two days 14 days apart, in the same
phase. Prints a table and a JSON line; records a section in bench/results.md unless --no-record.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import cycle_figures  # noqa: E402
from build import cpu_name  # noqa: E402
from e2e import BenchPostgres  # noqa: E402
from results import record_section  # noqa: E402
from seeds import seed_listings  # noqa: E402
from sink_process import Sink  # noqa: E402

SECTION = "## Database growth across pruning (`bench/growth.py`)"
PAPERBOY = [sys.executable, "-m", "service"]
E2E = str(Path(__file__).with_name("e2e.py"))
START = dt.date(2026, 10, 1)
PAPERS_A_DAY = 100
RETENTION = 9


def day_listings(index: int, day: dt.date) -> list:
    """The day's fresh papers: seed papers in rotation, each with a new arXiv id and title."""
    seeds = seed_listings()
    chosen = []
    for n in range(PAPERS_A_DAY):
        seed = seeds[(index * PAPERS_A_DAY + n) % len(seeds)]
        chosen.append(
            dataclasses.replace(
                seed,
                source="file",
                arxiv_id=f"26{index:02}.{n + 1:05}",
                title=f"{seed.title} (issue {day.isoformat()} {n + 1})",
                listed_on=day,
                position=n + 1,
            )
        )
    return chosen


def run(command: list[str], env: dict[str, str], log: Path, what: str) -> str:
    with log.open("ab") as err:
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=err)
    if done.returncode != 0:
        sys.exit(f"{what} exited with {done.returncode}:\n{log.read_text()[-3000:]}")
    return done.stdout.decode()


def pairs_sent(connection: object, day: dt.date) -> list[tuple[int, int]]:
    """(subscriber id, paper id) of every paper in a digest of ``day`` that went out."""
    from sqlalchemy import text

    rows = connection.execute(  # type: ignore[attr-defined]
        text(
            "SELECT d.subscriber_id, i.paper_id FROM deliveries d"
            " JOIN delivery_items i ON i.delivery_id = d.id"
            " WHERE d.digest_date = :day AND d.status IN ('sent', 'in_doubt')"
        ),
        {"day": day},
    )
    return [(int(s), int(p)) for s, p in rows]


def counts(connection: object) -> tuple[int, int]:
    from sqlalchemy import text

    return tuple(  # type: ignore[return-value]
        int(connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())  # type: ignore[attr-defined]
        for name in cycle_figures.RELATIONS
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=25)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if args.days < RETENTION + 3:
        sys.exit(f"--days must be at least {RETENTION + 3} for the window to fill and grow")

    server = BenchPostgres(fsync=True)
    server.start()
    sink = Sink(0.0, lean=True)
    folder = Path(tempfile.mkdtemp(prefix="paperboy-growth-"))
    log = folder / "paperboy.log"
    engine = None
    try:
        url = server.create_database()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
            "PAPERBOY_DATABASE_URL": url,
            "PAPERBOY_DELIVERY_QUEUE": "inline",
            "PAPERBOY_SECRET_KEY": "bench-growth-secret",
            "PAPERBOY_BASE_URL": "https://paperboy.example.org",
            "PAPERBOY_FROM": "Paperboy <digest@paperboy.example.org>",
            "PAPERBOY_SMTP_URL": sink.url,
            "PAPERBOY_LOG_LEVEL": "WARNING",
            "PAPERBOY_OUTBOX_DIR": str(folder / "outbox"),
            "PAPERBOY_DELIVERY_RETENTION_DAYS": str(RETENTION),
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith("PAPERBOY_")})
        run([*PAPERBOY, "db", "upgrade"], env, log, "paperboy db upgrade")
        made = run(
            [sys.executable, E2E, "populate", url, str(args.subscribers)], env, log, "populate"
        )
        print(f"setup: {made.strip()}", flush=True)

        from sqlalchemy import text

        from service.delivery.retention import prune, retention_days
        from service.settings import Settings
        from service.sources.jsonl import dump_jsonl
        from service.storage.engine import make_engine, make_session_factory

        settings = Settings()  # type: ignore[call-arg]
        retention = retention_days(settings)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        seen: set[tuple[int, int]] = set()
        repeats: list[str] = []
        rows: list[dict] = []
        header = "| day | digests sent | pruned | deliveries kept | items kept | relation bytes | bytes per kept digest | seconds |"
        print(header + "\n|---|---:|---:|---:|---:|---:|---:|---:|", flush=True)
        for index in range(args.days):
            day = START + dt.timedelta(days=index)
            begin = time.perf_counter()
            listing_file = folder / f"{day.isoformat()}.jsonl"
            listing_file.write_text(dump_jsonl(day_listings(index, day)), encoding="utf-8")
            ingested = json.loads(
                run(
                    [*PAPERBOY, "ingest", "--file", str(listing_file), "--json"], env, log, "ingest"
                )
            )
            new = ingested["new"] if isinstance(ingested, dict) else sum(r["new"] for r in ingested)
            if new != PAPERS_A_DAY:
                sys.exit(
                    f"{day}: ingest made {new} new papers, expected {PAPERS_A_DAY}: {ingested}"
                )
            before_sink = sink.count()
            report = json.loads(
                run([*PAPERBOY, "send", "--date", day.isoformat(), "--json"], env, log, "send")
            )
            sent = int(report["sent"])
            accepted = sink.count() - before_sink
            if report.get("failed") or accepted != sent:
                sys.exit(f"{day}: send reported {report}, the sink accepted {accepted}")
            with engine.connect() as connection:
                today = pairs_sent(connection, day)
            again = [pair for pair in today if pair in seen]
            if again:
                repeats.append(f"{day}: {len(again)} pairs sent before, e.g. {again[:3]}")
            seen.update(today)
            now = dt.datetime.combine(day, dt.time(12), dt.UTC)
            pruned = prune(factory, settings=settings, now=now)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                for name in cycle_figures.RELATIONS:
                    connection.execute(text(f"VACUUM {name}"))
                kept, items = counts(connection)
                size = cycle_figures.relation_bytes(connection)
            row = {"day": day.isoformat(), "sent": sent, "pruned": pruned, "kept": kept,
                   "items": items, "bytes": size, "per_kept": size / kept if kept else 0.0,
                   "seconds": time.perf_counter() - begin}  # fmt: skip
            rows.append(row)
            print(
                f"| {row['day']} | {sent:,} | {pruned:,} | {kept:,} | {items:,} | {size:,} "
                f"| {row['per_kept']:,.0f} | {row['seconds']:.0f} |",
                flush=True,
            )
        table = [header, "|---|---:|---:|---:|---:|---:|---:|---:|"] + [
            f"| {r['day']} | {r['sent']:,} | {r['pruned']:,} | {r['kept']:,} | {r['items']:,} "
            f"| {r['bytes']:,} | {r['per_kept']:,.0f} | {r['seconds']:.0f} |"
            for r in rows
        ]
        filled = next((i for i, r in enumerate(rows) if r["pruned"] > 0), None)
        if filled is None or filled >= len(rows) - 1:
            sys.exit("the retention window never filled: run more --days")
        last = len(rows) - 1
        after = sum(r["sent"] for r in rows[filled + 1 :])
        growth = (rows[last]["bytes"] - rows[filled]["bytes"]) / after
        steady = rows[filled:]
        per_kept = sum(r["bytes"] for r in steady) / sum(r["kept"] for r in steady)
        peak_before = max(r["bytes"] for r in rows[:filled])
        summary = {
            "subscribers": args.subscribers,
            "days": args.days,
            "papers_a_day": PAPERS_A_DAY,
            "retention_days": retention,
            "digests_sent": sum(r["sent"] for r in rows),
            "window_filled_on": rows[filled]["day"],
            "digests_after_filled": after,
            "bytes_first_filled": rows[filled]["bytes"],
            "bytes_last": rows[last]["bytes"],
            "bytes_max_before_filled": peak_before,
            "bytes_per_kept_digest": round(per_kept),
            "growth_bytes_per_digest_after_pruning": round(growth, 1),
            "never_twice_ok": not repeats,
            "pairs_checked": len(seen),
        }
        lines = [
            f"bytes per kept digest (deliveries + delivery_items with indexes, from {rows[filled]['day']} on): {per_kept:,.0f}",
            f"growth after the window filled ({rows[filled]['day']} → {rows[last]['day']}, "
            f"{after:,} digests): {rows[last]['bytes'] - rows[filled]['bytes']:+,} bytes = "
            f"{growth:+.1f} bytes per digest (target ≤ 512)",
            f"never-twice across pruning: {'ok' if not repeats else 'BROKEN'} "
            f"({len(seen):,} (subscriber, paper) pairs, each sent once)",
        ]
        print("\n".join(lines))
        print(json.dumps(summary), flush=True)
        if not args.no_record:
            command = "bench/growth.py" + "".join(
                f" --{k} {v}" for k, v in (("subscribers", args.subscribers), ("days", args.days))
            )
            record_section(SECTION, [
                f"{dt.date.today().isoformat()}, `{command}`, {cpu_name()} ({os.cpu_count()} CPUs, shared), "
                f"PostgreSQL fsync on. Each simulated day from {START.isoformat()}: ingest {PAPERS_A_DAY} fresh papers, "
                f"`paperboy send --date DAY` (inline) to the lean counting sink, prune as of the day 12:00 UTC "
                f"with `PAPERBOY_DELIVERY_RETENTION_DAYS={RETENTION}` (retention in force {retention} days), "
                "plain VACUUM of both tables; relation bytes are pg_total_relation_size of "
                "`deliveries` + `delivery_items` (indexes and TOAST included).",
                "", *table, "", *[f"- {line}" for line in lines], "", "Last line printed:", "",
                "```", json.dumps(summary), "```",
            ])  # fmt: skip
        if repeats:
            sys.exit("never-twice broken across pruning:\n" + "\n".join(repeats))
    finally:
        if engine is not None:
            engine.dispose()
        sink.stop()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
