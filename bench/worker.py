"""One `paperboy worker --once` on PostgreSQL, in this process: messages/s, CPU, commits and SQL
statements per message, and the ratio to building the same messages alone.

    .venv/bin/python bench/worker.py [--messages 5000] [--latency 0] [--no-fsync] [--no-record]
        [--set NAME=VALUE ...]

Setup, not timed: a private PostgreSQL server (bench/e2e.py's BenchPostgres, fsync on unless
--no-fsync), `paperboy db upgrade`, `--messages` generated subscribers (bench/population.py), the
seed papers ingested, and `paperboy send --date D` (PAPERBOY_DELIVERY_QUEUE=procrastinate) planning
one delivery each and queueing them. Then, timed: `service.delivery.queue.run_worker(wait=False)`
(what `paperboy worker --once` runs) in this process, with default settings, sending to the sink
(bench/lean_sink.py, or with --sink aiosmtpd tests/support/smtp_sink.py; counting only) in its
own process, and the sink's CPU per message. Counted: this process's CPU
(getrusage), commits (pg_stat_database.xact_commit delta, the queue's own included) and SQL
statements the worker's engine sent (SQLAlchemy's before_cursor_execute: an executemany counts
once; procrastinate's own queries go through its own connection and are not counted). Then
bench/build.py's path (render → build_message → wire_bytes) on as many digests of the same size,
CPU per built message. Checks that every delivery is sent and the sink took one per subscriber.
Replaces the "Delivery worker" section of bench/results.md (unless --no-record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from build import FROM, LIST_ID, WHEN, cpu_name, make_digests  # noqa: E402
from e2e import DATE, PAPERBOY, BenchPostgres  # noqa: E402
from results import RESULTS, record_section  # noqa: E402
from seeds import seed_listings, seed_papers  # noqa: E402
from sink_process import Sink  # noqa: E402

SECTION = "## Delivery worker (`bench/worker.py`)"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_split() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        sys.exit(f"{' '.join(command[2:])} failed: {done.stderr[-2000:]}")
    return done.stdout


def build_cpu_per_message(count: int, papers: int) -> float:
    """bench/build.py's path on `count` digests of `papers` papers: CPU ms per built message."""
    from service.digest.message import build_message, wire_bytes
    from service.digest.render import Renderer
    from service.digest.samples import BASE_URL
    from service.resources import templates_dir

    renderer = Renderer(templates_dir())
    digests = make_digests(seed_papers(), count, papers, unique=False)
    begin = time.process_time()
    for digest in digests:
        wire_bytes(
            build_message(renderer.render(digest), to=digest.email, from_addr=FROM, base_url=BASE_URL,
                          unsubscribe_url=digest.links.unsubscribe, list_id=LIST_ID, date=WHEN)
        )  # fmt: skip
    return (time.process_time() - begin) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.0, help="sink latency in ms")
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument(
        "--sink", choices=("lean", "aiosmtpd"), default="lean",
        help="bench/lean_sink.py (default) or tests/support/smtp_sink.py",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="a setting for the planning and the worker, e.g. DELIVERY_BATCH_SIZE=1000 "
        "(PAPERBOY_ is added); the results then name it",
    )  # fmt: skip
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)

    from sqlalchemy import event

    from service.delivery.queue import run_worker
    from service.delivery.runtime import Runtime
    from service.settings import Settings
    from service.sources.jsonl import dump_jsonl
    from service.storage import store
    from service.storage.engine import session_scope

    server = BenchPostgres(fsync=not args.no_fsync)
    server.start()
    sink = Sink(args.latency / 1000, lean=args.sink == "lean")
    folder = Path(tempfile.mkdtemp(prefix="paperboy-worker-"))
    try:
        url = server.create_database()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
            "PAPERBOY_DATABASE_URL": url, "PAPERBOY_DELIVERY_QUEUE": "procrastinate",
            "PAPERBOY_SECRET_KEY": "bench-worker-secret", "PAPERBOY_BASE_URL": "https://paperboy.example.org",
            "PAPERBOY_FROM": FROM, "PAPERBOY_SMTP_URL": sink.url, "PAPERBOY_LOG_LEVEL": "WARNING",
            **{f"PAPERBOY_{name.upper()}": value for name, value in overrides.items()},
        }  # fmt: skip
        seeds = folder / "seeds.jsonl"
        seeds.write_text(dump_jsonl(seed_listings()), encoding="utf-8")
        run([*PAPERBOY, "db", "upgrade"], env)
        run(
            [sys.executable, str(ROOT / "bench" / "e2e.py"), "populate", url, str(args.messages)],
            env,
        )
        run([*PAPERBOY, "ingest", "--file", str(seeds), "--json"], env)
        planned = json.loads(run([*PAPERBOY, "send", "--date", DATE.isoformat(), "--json"], env))
        print(f"setup: {planned}", flush=True)

        os.environ.update(env)
        runtime = Runtime(Settings())  # type: ignore[call-arg]
        statements = [0]

        @event.listens_for(runtime.engine, "before_cursor_execute")
        def count(*_: object) -> None:
            statements[0] += 1

        def activity() -> dict[str, int]:
            with session_scope(runtime.factory) as session:
                return store.database_activity(session)

        time.sleep(1.2)  # idle backends flush their statistics (PGSTAT_MIN_INTERVAL 1 s)
        db0, cpu0, n0 = activity(), cpu(), statements[0]
        split0 = cpu_split()
        begin = time.perf_counter()
        run_worker(runtime, concurrency=runtime.settings.worker_concurrency, wait=False)
        seconds = time.perf_counter() - begin
        cpu1, n1 = cpu(), statements[0]
        split1 = cpu_split()
        time.sleep(1.2)
        db1 = activity()
        with session_scope(runtime.factory) as session:
            by_status = store.count_deliveries_by_status(session, digest_date=DATE)
            items = store.count_delivery_items(session, digest_date=DATE)
        sent = by_status.get("sent", 0)
        accepted, recipients = sink.ask("count")
        sink_cpu = sink.ask("usage")[0]
        assert by_status == {"sent": args.messages}, by_status
        assert accepted == recipients == args.messages, (accepted, recipients)
    finally:
        sink.stop()
        server.stop()
    papers = round(items / sent)
    build_ms = build_cpu_per_message(min(sent, 2000), papers)
    worker_ms = (cpu1 - cpu0) * 1000 / sent
    commits = (db1["commits"] - db0["commits"]) / sent
    per_statement = (n1 - n0) / sent
    figures = {
        "messages": sent, "seconds": round(seconds, 2), "messages_per_s": round(sent / seconds, 1),
        "worker_cpu_ms_per_message": round(worker_ms, 3), "build_cpu_ms_per_message": round(build_ms, 3),
        "cpu_ratio": round(worker_ms / build_ms, 2), "commits_per_message": round(commits, 4),
        "statements_per_message": round(per_statement, 3), "papers_per_message": papers,
        "sink_cpu_ms_per_message": round(sink_cpu * 1000 / sent, 3), "sink": args.sink,
        "worker_user_ms_per_message": round((split1[0] - split0[0]) * 1000 / sent, 3),
        "worker_system_ms_per_message": round((split1[1] - split0[1]) * 1000 / sent, 3),
    }  # fmt: skip
    print(json.dumps(figures), flush=True)
    if not args.no_record:
        s = runtime.settings
        record_section(SECTION, [
            f"{dt.date.today().isoformat()}, Python {platform.python_version()} on {cpu_name()} ({os.cpu_count()} CPUs, shared); "
            f"PostgreSQL fsync {'off' if args.no_fsync else 'on'}. One `paperboy worker --once` (run_worker, in the bench's "
            f"process) delivering {sent:,} planned digests of {papers} papers to the counting sink ({args.sink}) in its own process "
            f"(latency {args.latency:g} ms); {'settings ' + ', '.join(f'PAPERBOY_{k.upper()}={v}' for k, v in overrides.items()) + ', otherwise ' if overrides else ''}default settings: {s.worker_concurrency} jobs at once of "
            f"{s.delivery_batch_size} deliveries, {s.smtp_connections} SMTP connections, claim batch {s.send_claim_batch}.",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| messages/s (one worker process) | {sent / seconds:,.0f} |",
            f"| worker CPU per message | {worker_ms:.2f} ms |",
            f"| bench/build.py path, CPU per built message | {build_ms:.2f} ms |",
            f"| ratio worker / build | {worker_ms / build_ms:.2f}× |",
            f"| worker CPU per message: user / system | {figures['worker_user_ms_per_message']:.2f} / {figures['worker_system_ms_per_message']:.2f} ms |",
            f"| sink CPU per message ({args.sink}) | {figures['sink_cpu_ms_per_message']:.2f} ms |",
            f"| commits per message (pg_stat_database, queue included) | {commits:.3f} |",
            f"| SQL statements per message (worker's engine; an executemany counts once) | {per_statement:.2f} |",
            "",
            "Targets (issue 17): ≥ 600 messages/s, ≤ 0.1 commits per message, worker CPU ≤ 2× build CPU per message.",
        ])  # fmt: skip
        print(f"recorded in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
