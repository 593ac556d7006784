"""The SQLite embedded default on one host: one `paperboy send` to every subscriber while the web
front keeps reading and writing the same file, with no "database is locked".

    .venv/bin/python bench/sqlite_send.py [--subscribers 10000] [--no-serve] [--no-record]

Setup (timed and printed, not part of the result): a SQLite file in a temporary folder
(`sqlite:///…`, WAL and busy_timeout as service/storage/engine.py sets them), `paperboy db
upgrade`, `--subscribers` generated subscribers (bench/population.py) inserted by a child process
through `store.add_subscribers_bulk` a chunk per transaction, every one due at once, and the 314
seed papers ingested (`paperboy ingest --file`).

Timed: ONE `paperboy send --date D --json` process with the default inline delivery (no queue) to
the counting sink (bench/lean_sink.py in its own process), as a single-host operator runs it.
Meanwhile, as the web front would:

- a child process (`sqlite_send.py web URL STOP`) each ~100 ms commits a short write transaction
  through the store, in turn: a new (pending) subscriber, a vote by a reader on a paper, a
  confirmation request for one of its pending subscribers; and reads what the manage page reads
  (the subscriber, its interests, its votes). It counts each operation and every error;
- unless --no-serve, `paperboy serve --no-scheduler` on the same file, its landing page and
  /healthz fetched with httpx a few times a second.

Checks (exit 1 when one fails): the send's JSON says every subscriber was sent, the sink accepted
exactly one message per subscriber, no "database is locked" (nor any OperationalError) in any log
or in the web process, every write the web process made is in the database, every page answered
200. Prints the figures; the last line is one JSON object. Replaces its section of
bench/results.md unless --no-record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from build import cpu_name  # noqa: E402
from population import iter_subscriber_rows  # noqa: E402
from results import RESULTS, record_section  # noqa: E402
from seeds import seed_listings  # noqa: E402
from sink_process import Sink  # noqa: E402

SECTION = "## SQLite, one host (`bench/sqlite_send.py`)"
PAPERBOY = [sys.executable, "-m", "service"]
CHUNK = 2_000
WEB_DOMAIN = "web.bench.example.org"
LOCKED = "database is locked"
MB = 1024  # ru_maxrss is in KiB


# --- children ------------------------------------------------------------------------------------


def populate(database_url: str, count: int) -> None:
    """Child process: the generated subscribers through the store's bulk path, a chunk a commit."""
    from service.storage import store
    from service.storage.engine import make_engine, make_session_factory, session_scope

    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    rows = iter_subscriber_rows(count)
    inserted = 0
    while chunk := list(islice(rows, CHUNK)):
        with session_scope(factory) as session:
            inserted += len(store.add_subscribers_bulk(session, rows=chunk, now=now))
    engine.dispose()
    print(json.dumps({"subscribers": inserted}))


def web(database_url: str, stop: str) -> None:
    """Child process: what the web front does while the send runs, every ~100 ms, until the
    file ``stop`` exists; prints one JSON object of counts."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import OperationalError

    from service.storage import store
    from service.storage.engine import make_engine, make_session_factory, session_scope
    from service.storage.models import Feedback, Paper, Subscriber

    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    rng = random.Random(11)
    with session_scope(factory) as session:
        readers = list(session.scalars(select(Subscriber.id).where(Subscriber.status == "active")))
        papers = list(session.scalars(select(Paper.id)))
    counts = {"writes": 0, "reads": 0, "errors": 0, "locked": 0}
    done = {"added": 0, "voted": set(), "requested": 0}
    pending: list[int] = []
    latencies: list[float] = []
    errors: list[str] = []
    n = 0
    while not os.path.exists(stop):
        now = dt.datetime.now(dt.UTC)
        kind = n % 3
        began = time.perf_counter()
        try:
            with session_scope(factory) as session:
                if kind == 0 or not pending:
                    added = store.add_subscriber(
                        session, email=f"web{n:06d}@{WEB_DOMAIN}", status="pending",
                        timezone="UTC", delivery_hour=8, cadence="daily", max_papers=10,
                        topics=[("keyword", "diffusion models", 1.0)], now=now,
                    )  # fmt: skip
                    session.flush()
                    pending.append(added.id)
                    done["added"] += 1
                elif kind == 1:
                    reader, paper = rng.choice(readers), rng.choice(papers)
                    store.record_feedback(
                        session, subscriber_id=reader, paper_id=paper, vote=1, now=now
                    )
                    done["voted"].add((reader, paper))
                else:
                    store.request_confirmation(
                        session, subscriber_id=rng.choice(pending), nonce=secrets.token_hex(8),
                        requested={"cadence": "weekly"}, now=now, interval=dt.timedelta(0),
                    )  # fmt: skip
                    done["requested"] += 1
            counts["writes"] += 1
            with session_scope(factory) as session:  # what the manage page reads
                reader = rng.choice(readers)
                subscriber = store.get_subscriber_by_id(session, subscriber_id=reader)
                assert subscriber is not None
                store.list_interests(session, subscriber_id=reader)
                store.feedback_votes(session, subscriber_ids=[reader])
            counts["reads"] += 1
        except OperationalError as exc:
            counts["errors"] += 1
            counts["locked"] += LOCKED in str(exc)
            errors.append(str(exc).splitlines()[0])
        except Exception:  # noqa: BLE001 - counted and shown, the loop goes on
            counts["errors"] += 1
            errors.append(traceback.format_exc().splitlines()[-1])
        latencies.append(time.perf_counter() - began)
        n += 1
        time.sleep(0.1)
    with session_scope(factory) as session:  # every write committed?
        in_db = session.scalar(
            select(func.count())
            .select_from(Subscriber)
            .where(Subscriber.email.like(f"%@{WEB_DOMAIN}"))
        )
        votes = session.scalar(select(func.count()).select_from(Feedback))
    engine.dispose()
    latencies.sort()
    print(json.dumps({
        **counts, "added": done["added"], "added_in_db": in_db, "votes": len(done["voted"]),
        "votes_in_db": votes, "requested": done["requested"],
        "op_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "op_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "first_errors": errors[:5],
    }))  # fmt: skip


# --- the run -------------------------------------------------------------------------------------


def run(command: list[str], env: dict[str, str], log: Path, what: str) -> str:
    with log.open("ab") as err:
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=err, check=False)
    if done.returncode != 0:
        sys.exit(f"{what} exited with {done.returncode}:\n{log.read_text()[-3000:]}")
    return done.stdout.decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Pages(threading.Thread):
    """Fetch the landing page and /healthz of a running `paperboy serve` ~4 times a second."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.done = threading.Event()
        self.ok = 0
        self.bad: list[str] = []

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, timeout=60) as client:
            n = 0
            while not self.done.wait(0.25):
                path = "/" if n % 2 == 0 else "/healthz"
                n += 1
                try:
                    response = client.get(path)
                except httpx.HTTPError as exc:
                    self.bad.append(f"{path}: {exc!r}")
                    continue
                if response.status_code == 200:
                    self.ok += 1
                else:
                    self.bad.append(f"{path}: {response.status_code}")


def wait_for(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    for _ in range(600):
        if process.poll() is not None:
            sys.exit(f"paperboy serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("paperboy serve did not answer /healthz within 2 minutes")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from service.sources.jsonl import dump_jsonl

    folder = Path(tempfile.mkdtemp(prefix="paperboy-sqlite-"))
    database = folder / "paperboy.db"
    url = f"sqlite:///{database}"
    logs = {name: folder / f"{name}.log" for name in ("setup", "send", "web", "serve")}
    seeds = folder / "seeds.jsonl"
    seeds.write_text(dump_jsonl(seed_listings()), encoding="utf-8")
    sink = Sink(0.0, lean=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
        "PAPERBOY_DATABASE_URL": url,
        "PAPERBOY_SECRET_KEY": "bench-sqlite-secret",
        "PAPERBOY_BASE_URL": "https://paperboy.example.org",
        "PAPERBOY_FROM": "Paperboy <digest@paperboy.example.org>",
        "PAPERBOY_SMTP_URL": sink.url,
        "PAPERBOY_LOG_LEVEL": "WARNING",
        "PAPERBOY_OUTBOX_DIR": str(folder / "outbox"),
    }
    date = dt.datetime.now(dt.UTC).date()
    serve = pages = None
    try:
        began = time.perf_counter()
        run([*PAPERBOY, "db", "upgrade"], env, logs["setup"], "paperboy db upgrade")
        upgraded = time.perf_counter()
        made = run([sys.executable, __file__, "populate", url, str(args.subscribers)], env,
                   logs["setup"], "populate")  # fmt: skip
        populated = time.perf_counter()
        ingested = json.loads(run([*PAPERBOY, "ingest", "--file", str(seeds), "--json"], env,
                                  logs["setup"], "paperboy ingest"))  # fmt: skip
        setup = {
            "db_upgrade_s": upgraded - began,
            "populate_s": populated - upgraded,
            "ingest_s": time.perf_counter() - populated,
        }
        print(
            f"setup: db upgrade {setup['db_upgrade_s']:.1f} s; {made.strip()} in "
            f"{setup['populate_s']:.1f} s; ingest {ingested.get('new')} new papers in "
            f"{setup['ingest_s']:.1f} s; database {database.stat().st_size / 2**20:.1f} MiB",
            flush=True,
        )

        if not args.no_serve:
            port = free_port()
            with logs["serve"].open("ab") as err:
                serve = subprocess.Popen(
                    [*PAPERBOY, "serve", "--no-scheduler", "--port", str(port)],
                    env=env, stdout=err, stderr=err,
                )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            wait_for(base, serve, logs["serve"])
            pages = Pages(base)
            pages.start()
        stop = folder / "stop"
        with logs["web"].open("ab") as err:
            web_process = subprocess.Popen(
                [sys.executable, __file__, "web", url, str(stop)],
                env=env, stdout=subprocess.PIPE, stderr=err,
            )  # fmt: skip
        time.sleep(1.0)  # the web process has started its loop before the send starts

        load_before = os.getloadavg()[0]
        begin = time.perf_counter()
        with logs["send"].open("ab") as err:
            send = subprocess.Popen(
                [*PAPERBOY, "send", "--date", date.isoformat(), "--json"],
                env=env, stdout=subprocess.PIPE, stderr=err,
            )  # fmt: skip
        assert send.stdout is not None
        out = send.stdout.read().decode()
        _, status, usage = os.wait4(send.pid, 0)
        seconds = time.perf_counter() - begin
        send_exit = os.waitstatus_to_exitcode(status)
        load_after = os.getloadavg()[0]

        time.sleep(1.0)
        stop.touch()
        web_out, _ = web_process.communicate(timeout=300)
        if pages is not None:
            pages.done.set()
            pages.join()
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=60)
            serve = None
        accepted, recipients = sink.ask("count")
    finally:
        if serve is not None:
            serve.kill()
        sink.stop()

    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        report = {}
    seen = json.loads(web_out.decode().strip().splitlines()[-1]) if web_out.strip() else {}
    log_text = {
        name: path.read_text(errors="replace") for name, path in logs.items() if path.exists()
    }
    locked_in_logs = {name: text.count(LOCKED) for name, text in log_text.items()}
    operational = {name: text.count("OperationalError") for name, text in log_text.items()}
    n = args.subscribers
    checks = {
        f"send exited 0 (got {send_exit})": send_exit == 0,
        f"send JSON sent == {n:,} (got {report.get('sent')}; {report})": report.get("sent") == n,
        f"sink accepted {accepted:,} messages for {recipients:,} recipients == {n:,}": accepted
        == recipients
        == n,
        f"no '{LOCKED}' in the logs ({locked_in_logs}) nor the web process ({seen.get('locked')})": not any(
            locked_in_logs.values()
        )
        and seen.get("locked") == 0,
        f"no OperationalError in the logs ({operational}); web process errors {seen.get('errors')} {seen.get('first_errors')}": not any(
            operational.values()
        )
        and seen.get("errors") == 0,
        f"web writes committed: subscribers {seen.get('added_in_db')}/{seen.get('added')}, votes {seen.get('votes_in_db')}/{seen.get('votes')}": seen.get(
            "added"
        )
        == seen.get("added_in_db")
        and seen.get("votes") == seen.get("votes_in_db"),
    }
    if pages is not None:
        checks[f"pages answered 200: {pages.ok} ok, {len(pages.bad)} not ({pages.bad[:3]})"] = (
            not pages.bad and pages.ok > 0
        )
    summary = {
        "subscribers": n,
        "send_s": round(seconds, 1),
        "digests_per_s": round(n / seconds, 1),
        "send_peak_rss_mib": round(usage.ru_maxrss / MB, 1),
        "send_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "web_writes": seen.get("writes"),
        "web_reads": seen.get("reads"),
        "web_errors": seen.get("errors"),
        "web_op_p50_ms": seen.get("op_p50_ms"),
        "web_op_max_ms": seen.get("op_max_ms"),
        "pages_ok": pages.ok if pages is not None else None,
        "pages_failed": len(pages.bad) if pages is not None else None,
        "database_locked": sum(locked_in_logs.values()) + (seen.get("locked") or 0),
        "db_mib": round(database.stat().st_size / 2**20, 1),
        "db_wal_mib": round(_size(Path(f"{database}-wal")) / 2**20, 1),
    }
    ok = all(checks.values())
    for check, passed in checks.items():
        print(("ok     " if passed else "FAILED ") + check)
    print(
        f"{n:,} subscribers: one `paperboy send` {seconds:.1f} s = {n / seconds:,.1f} digests/s, "
        f"CPU {summary['send_cpu_s']} s, peak RSS {summary['send_peak_rss_mib']} MiB; load "
        f"{load_before:.2f} → {load_after:.2f}; meanwhile the web process did {seen.get('writes')} "
        f"writes and {seen.get('reads')} reads (median {seen.get('op_p50_ms')} ms, slowest "
        f"{seen.get('op_max_ms')} ms), {seen.get('errors')} errors"
        + (f"; pages {pages.ok} ok, {len(pages.bad)} not" if pages is not None else "")
        + f"; database file {summary['db_mib']} MiB (+ WAL {summary['db_wal_mib']} MiB)",
        flush=True,
    )
    if not ok:
        print(f"logs kept in {folder}", file=sys.stderr)
    else:
        for path in folder.iterdir():
            if path.is_file():
                path.unlink()
    return {"summary": summary, "ok": ok, "setup": setup, "load": (load_before, load_after),
            "date": date}  # fmt: skip


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "populate":
        populate(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "web":
        web(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--no-serve", action="store_true", help="no `paperboy serve` alongside")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results.md")
    args = parser.parse_args()
    began = time.perf_counter()
    result = bench(args)
    summary = result["summary"]
    print(f"bench wall time {time.perf_counter() - began:.0f} s", flush=True)
    if not args.no_record and result["ok"]:
        setup = result["setup"]
        command = f"bench/sqlite_send.py --subscribers {args.subscribers}" + (
            " --no-serve" if args.no_serve else ""
        )
        record_section(SECTION, [
            f"{dt.date.today().isoformat()}, `{command}`, Python {platform.python_version()} on "
            f"{cpu_name()} ({os.cpu_count()} CPUs, shared with other work: load "
            f"{result['load'][0]:.2f} at the start, {result['load'][1]:.2f} at the end), SQLite "
            f"{__import__('sqlite3').sqlite_version} file in a temp folder (WAL, busy_timeout 30 s), "
            "default inline delivery to the counting sink (bench/lean_sink.py, own process). Setup, "
            f"not timed: db upgrade {setup['db_upgrade_s']:.1f} s, {args.subscribers:,} subscribers "
            f"through `store.add_subscribers_bulk` {setup['populate_s']:.1f} s, ingest of the seed "
            f"papers {setup['ingest_s']:.1f} s.",
            "",
            f"One `paperboy send --date {result['date'].isoformat()} --json`: **{summary['send_s']} s, "
            f"{summary['digests_per_s']} digests/s**, CPU {summary['send_cpu_s']} s, peak RSS "
            f"{summary['send_peak_rss_mib']} MiB. Meanwhile a second process committed "
            f"{summary['web_writes']} short write transactions through the store (new subscriber, "
            f"vote, confirmation request) and {summary['web_reads']} manage-page reads, one each "
            f"~100 ms (median {summary['web_op_p50_ms']} ms, slowest {summary['web_op_max_ms']} ms "
            f"for a write and a read), **{summary['web_errors']} errors**"
            + ("" if summary["pages_ok"] is None else
               f"; `paperboy serve` answered {summary['pages_ok']} requests for / and /healthz, "
               f"{summary['pages_failed']} failed")
            + f". **\"database is locked\": {summary['database_locked']}.** Every digest sent, the "
            "sink took one message per subscriber, every write of the second process is in the "
            f"database. Database file {summary['db_mib']} MiB. Last line printed:",
            "", "```json", json.dumps(summary), "```",
        ])  # fmt: skip
        print(f"recorded in {RESULTS.relative_to(ROOT)}")
    print(json.dumps(summary), flush=True)
    if not result["ok"]:
        sys.exit("bench/sqlite_send.py: a check failed (see FAILED above)")


if __name__ == "__main__":
    main()
