"""bench/e2e.py's figures beyond the stages: the subscribers inserted by COPY in chunks (memory
bounded, fast at a million), a scheduler tick with nothing due timed inside its process, the bytes a digest keeps
in the database before and after pruning, and the CPU of building one message by
bench/build.py's own path (the yardstick a worker's CPU per message is compared with).

The children run as `e2e.py populate|tick|prune URL ...` so their memory is their own.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from itertools import islice

from population import iter_subscriber_rows

CHUNK = 20_000
RELATIONS = ("deliveries", "delivery_items")


def populate(database_url: str, count: int) -> None:
    """Child process: insert ``count`` generated subscribers and their topics with COPY (ids
    given here, the sequences moved past them; one interest each), a chunk per COPY; every one due at once, as
    after migration 0010 (``DUE_NOW``)."""
    from service.storage.engine import make_engine
    from service.storage.models import DUE_NOW

    engine = make_engine(database_url)
    now = dt.datetime.now(dt.UTC)
    rows = iter_subscriber_rows(count)
    inserted = topics = 0
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            while chunk := list(islice(rows, CHUNK)):
                columns = "id, email, status, timezone, delivery_hour, cadence, max_papers, skip_empty, created_at, confirmed_at, soft_bounces, next_due_at"
                with cursor.copy(f"COPY subscribers ({columns}) FROM STDIN") as copy:
                    for n, row in enumerate(chunk, start=inserted + 1):
                        copy.write_row((
                            n, row["email"], row["status"], row["timezone"], row["delivery_hour"],
                            row["cadence"], row["max_papers"], False, now, now, 0, DUE_NOW,
                        ))  # fmt: skip
                with cursor.copy(
                    "COPY interests (id, subscriber_id, name, position, created_at) FROM STDIN"
                ) as copy:
                    for n in range(inserted + 1, inserted + len(chunk) + 1):
                        copy.write_row((n, n, "My papers", 0, now))  # one interest each, id = n
                with cursor.copy(
                    "COPY topics (subscriber_id, interest_id, kind, text, weight) FROM STDIN"
                ) as copy:
                    for n, row in enumerate(chunk, start=inserted + 1):
                        for kind, text, weight in row["topics"]:
                            copy.write_row((n, n, kind, text, weight))
                            topics += 1
                inserted += len(chunk)
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), %s)", (inserted,)
            )
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('interests', 'id'), %s)", (inserted,)
            )
        connection.commit()
    finally:
        raw.close()
    print(json.dumps({"subscribers": inserted, "topics": topics}))


def nothing_due_tick(database_url: str) -> None:
    """Child process: every subscriber's next digest is tomorrow (as after a day's ticks); one
        scheduler tick (``send_due`` with the delivery queue) timed in-process, the second one (the
    first also connects and compiles, which a running scheduler did long ago)."""
    from sqlalchemy import text

    from service.delivery.fan_out import fan_out
    from service.delivery.planning import send_due
    from service.delivery.runtime import Runtime
    from service.ledger.ingest import utcnow
    from service.settings import Settings

    runtime = Runtime(Settings())  # type: ignore[call-arg]
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE subscribers SET next_due_at = now() + interval '1 day'"))
        connection.execute(text("ANALYZE subscribers"))
    enqueue = fan_out(runtime)
    send_due(runtime.pipeline, mailer=None, now=utcnow(), enqueue=enqueue)  # connect, compile
    begin = time.perf_counter()
    report = send_due(runtime.pipeline, mailer=None, now=utcnow(), enqueue=enqueue)
    seconds = time.perf_counter() - begin
    print(
        json.dumps({"seconds": seconds, "planned": len(report.outcomes), "queued": report.queued})
    )


def relation_bytes(connection: object) -> int:
    from sqlalchemy import text

    return sum(
        int(connection.execute(text(f"SELECT pg_total_relation_size('{name}')")).scalar_one())  # type: ignore[attr-defined]
        for name in RELATIONS
    )


def prune_after(database_url: str, date: str) -> None:
    """Child process: the bytes deliveries + items take now, then pruning as it runs once the
    retention has passed for ``date`` (plain VACUUM after, as autovacuum would), and after."""
    from service.delivery.retention import prune, retention_days
    from service.delivery.runtime import Runtime
    from service.settings import Settings

    runtime = Runtime(Settings())  # type: ignore[call-arg]
    with runtime.engine.connect() as connection:
        before = relation_bytes(connection)
    days = retention_days(runtime.settings) + 1
    when = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(12), dt.UTC)
    begin = time.perf_counter()
    pruned = prune(runtime.factory, settings=runtime.settings, now=when + dt.timedelta(days=days))
    seconds = time.perf_counter() - begin
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        from sqlalchemy import text

        for name in RELATIONS:
            connection.execute(text(f"VACUUM {name}"))
        after = relation_bytes(connection)
    print(json.dumps({"before": before, "after": after, "pruned": pruned, "seconds": seconds}))


def build_cpu_ms_per_message(count: int = 1000, papers: int = 10) -> float:
    """CPU ms to build one message (render → build_message → wire bytes), bench/build.py's path."""
    from build import make_digests, paperboy
    from seeds import seed_papers

    from service.digest.render import Renderer
    from service.resources import templates_dir

    renderer = Renderer(templates_dir())
    digests = make_digests(seed_papers(), count, papers, unique=False)
    begin = time.process_time()
    for digest in digests:
        paperboy(renderer, digest)
    return (time.process_time() - begin) / count * 1000


def tick_only(e2e_file: str, server: object, count: int) -> dict[str, float]:
    """`e2e.py --tick-only`: a fresh database with ``count`` subscribers (COPY), every one's next
    digest tomorrow, and the nothing-due tick timed in its own process; no cycle."""
    import subprocess
    import sys

    url = server.create_database(migrated=True)  # type: ignore[attr-defined]
    env = {"PAPERBOY_DATABASE_URL": url, "PAPERBOY_DELIVERY_QUEUE": "procrastinate",
           "PAPERBOY_SECRET_KEY": "bench-e2e-secret", "PAPERBOY_LOG_LEVEL": "WARNING"}  # fmt: skip
    import os

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}, **env}
    subprocess.run(
        [sys.executable, "-m", "service", "db", "upgrade"], env=env, check=True, capture_output=True
    )  # fmt: skip  (installs the queue's tables)
    begin = time.perf_counter()
    made = subprocess.run([sys.executable, e2e_file, "populate", url, str(count)], env=env,
                          check=True, capture_output=True, text=True)  # fmt: skip
    populate_s = time.perf_counter() - begin
    done = subprocess.run([sys.executable, e2e_file, "tick", url], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"subscribers": json.loads(made.stdout)["subscribers"], "populate_s": round(populate_s, 1),
            "tick_nothing_due_s": round(report["seconds"], 3), "planned": report["planned"]}  # fmt: skip
