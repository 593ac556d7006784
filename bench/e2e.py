"""The full daily cycle on a real PostgreSQL: ingest, plan + rank + record, render + deliver by
`paperboy worker` processes to a local SMTP sink; wall time, counts, CPU and peak memory per stage.

    .venv/bin/python bench/e2e.py [--subscribers 100000] [--cycle-workers 2]
                                  [--workers 1,2] [--compare-subscribers 20000]
                                  [--latency 0] [--no-fsync] [--no-record]

Every run is a fresh database on a private PostgreSQL server (initdb + pg_ctl in a temporary
folder on 127.0.0.1, as the `postgres` user when run as root: tests/support/pg_server.py; fsync on, as
in production, unless --no-fsync). Setup, not timed as part of the cycle: `paperboy db upgrade`,
then `--subscribers` generated subscribers (bench/population.py: Zipf topic mixes, categories,
excludes, time zones, daily and weekly) inserted by a child process. Then the cycle, each stage a
separate `paperboy` process exactly as an operator runs it, PAPERBOY_DELIVERY_QUEUE=procrastinate:

1. ingest: `paperboy ingest --file` of the 314 seed-page papers (bench/seeds.py) as JSON Lines, all new;
2. plan ∥ deliver, as deployed: N long-running `paperboy worker` processes (each
   PAPERBOY_WORKER_CONCURRENCY jobs at once, sharing PAPERBOY_SMTP_CONNECTIONS) are started, then
   `paperboy send --date D --json` ranks every subscriber, records a `deliveries` row and its
   `delivery_items`, and hands the rows to the queue every 5,000 planned (batches of
   PAPERBOY_DELIVERY_BATCH_SIZE), so the workers claim, render, send and record while the rest
   is planned. Once every delivery is `sent` and no job is waiting or running, the workers get
   SIGTERM. The stage's time is the cycle's planning and delivery together; `plan_s` is the
   planner's own wall time. With `--sequential` the full cycle plans first and then runs
   `paperboy worker --once` processes (which stop when no job is left), as the worker
   comparisons always do, so delivery is measured alone.

The run then checks that every delivery is `sent`, the sink accepted exactly one message per
subscriber and no job is left in the queue.

The sink is bench/lean_sink.py (counting only; `--sink aiosmtpd` for tests/support/smtp_sink.py, which
runs ~5× the CPU per message) in its own process. Figures per stage:
wall time, throughput, CPU seconds of each party (the stage's `paperboy` processes from wait4,
PostgreSQL from /proc: the postmaster's own and reaped children's time plus live backends', the
sink's getrusage), the whole machine's busy CPU from /proc/stat (so work of other users on this
shared machine shows as "other"), PostgreSQL's commits and rows written (pg_stat_database), and
peak RSS of every process (wait4's ru_maxrss; PostgreSQL backends' VmHWM sampled each 0.5 s,
shared buffers included).

The first run is the full cycle with `--subscribers` and `--cycle-workers` workers; then, for
each count in `--workers`, a full cycle on a fresh database with `--compare-subscribers`
(the delivery stage is what is compared). Prints everything and appends a dated section to
bench/results.md (unless --no-record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import cycle_figures  # noqa: E402
from build import cpu_name  # noqa: E402
from results import record_section  # noqa: E402
from seeds import seed_listings  # noqa: E402
from sink_process import Sink  # noqa: E402

from tests.support.pg_server import PostgresServer, _bindir  # noqa: E402

RESULTS = Path(__file__).with_name("results.md")
PAPERBOY = [sys.executable, "-m", "service"]
TICK = os.sysconf("SC_CLK_TCK")
DATE = dt.date(2026, 11, 23)
MB = 1024  # ru_maxrss and VmHWM are in KiB


# --- the sink, in its own process ----------------------------------------------------------------


# --- PostgreSQL ----------------------------------------------------------------------------------


class BenchPostgres(PostgresServer):
    """tests/support/pg_server.py's server, with fsync as in production unless asked otherwise."""

    def __init__(self, *, fsync: bool) -> None:
        bindir = _bindir()
        if bindir is None:
            sys.exit("bench/e2e.py needs the PostgreSQL server binaries (initdb, pg_ctl)")
        super().__init__(bindir)
        self.fsync = fsync

    def start(self) -> None:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root}"
            f" -c fsync={'on' if self.fsync else 'off'}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-l",
            str(self.root / "log"),
            "start",
        )

    def postmaster(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry))
    return found


def postgres_cpu(postmaster: int) -> float:
    """CPU seconds used by the server so far: the postmaster, its reaped and its live children."""
    fields = _stat(postmaster)
    if fields is None:
        return 0.0
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    for child in _children(postmaster):
        child_fields = _stat(child)
        if child_fields is not None:
            ticks += int(child_fields[11]) + int(child_fields[12])
    return ticks / TICK


def vm_hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """CPU seconds all processes on this machine have used since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / TICK


class Sampler(threading.Thread):
    """Each 0.5 s: the largest PostgreSQL process's peak RSS and the 1-minute load average."""

    def __init__(self, postmaster: int) -> None:
        super().__init__(daemon=True)
        self.postmaster = postmaster
        self.pg_peak_kib = 0
        self.load_max = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for pid in [self.postmaster, *_children(self.postmaster)]:
                self.pg_peak_kib = max(self.pg_peak_kib, vm_hwm(pid))
            self.load_max = max(self.load_max, os.getloadavg()[0])


# --- processes -----------------------------------------------------------------------------------


@dataclass
class Finished:
    stdout: str
    cpu: float
    maxrss_kib: int


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err)


def finish(process: subprocess.Popen[bytes], what: str, log: Path) -> Finished:
    """Wait for the process with wait4, for its own CPU time and peak RSS."""
    assert process.stdout is not None
    stdout = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text()[-3000:] if log.exists() else ""
        sys.exit(f"{what} exited with {process.returncode}:\n{tail}")
    return Finished(stdout, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def run(command: list[str], env: dict[str, str], log: Path, what: str) -> Finished:
    return finish(start(command, env, log), what, log)


def populate(database_url: str, count: int) -> None:
    """Child process (`e2e.py populate URL N`): insert the generated subscribers, in chunks."""
    cycle_figures.populate(database_url, count)


# --- one cycle -----------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    seconds: float
    count: int
    unit: str
    cpu: dict[str, float] = field(default_factory=dict)  # party → CPU seconds
    rss_mib: dict[str, float] = field(default_factory=dict)  # process → peak RSS
    db: dict[str, int] = field(default_factory=dict)  # pg_stat_database deltas
    note: str = ""
    in_cycle: bool = True

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


@dataclass
class Cycle:
    subscribers: int
    workers: int
    stages: list[Stage]
    setup: dict[str, float]
    pg_peak_mib: float
    load_before: float
    load_max: float
    items: int
    checks: list[str]
    figures: dict[str, float] = field(default_factory=dict)  # the nothing-due tick, pruning
    overlap: bool = False  # planning and delivery in one stage, as deployed

    @property
    def total(self) -> float:
        return sum(s.seconds for s in self.stages if s.in_cycle)


def cycle(
    args: argparse.Namespace, *, subscribers: int, workers: int, overlap: bool = False
) -> Cycle:
    from service.sources.jsonl import dump_jsonl
    from service.storage import store
    from service.storage.engine import make_engine, make_session_factory, session_scope

    how = "planning and delivery overlapped" if overlap else "plan, then deliver"
    print(f"\n== {subscribers:,} subscribers, {workers} worker process(es), {how} ==", flush=True)
    load_before = os.getloadavg()[0]
    server = BenchPostgres(fsync=not args.no_fsync)
    server.start()
    sink = Sink(args.latency / 1000, lean=args.sink == "lean")
    folder = Path(tempfile.mkdtemp(prefix="paperboy-e2e-"))
    log = folder / "paperboy.log"
    seeds = folder / "seeds.jsonl"
    seeds.write_text(dump_jsonl(seed_listings()), encoding="utf-8")
    sampler = Sampler(server.postmaster())
    sampler.start()
    engine = None
    try:
        url = server.create_database()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
            "PAPERBOY_DATABASE_URL": url,
            "PAPERBOY_DELIVERY_QUEUE": "procrastinate",
            "PAPERBOY_SECRET_KEY": "bench-e2e-secret",
            "PAPERBOY_BASE_URL": "https://paperboy.example.org",
            "PAPERBOY_FROM": "Paperboy <digest@paperboy.example.org>",
            "PAPERBOY_SMTP_URL": sink.url,
            "PAPERBOY_LOG_LEVEL": "WARNING",
            "PAPERBOY_OUTBOX_DIR": str(folder / "outbox"),
            **{f"PAPERBOY_{k}": str(v) for k, v in args.settings.items()},
        }
        engine = make_engine(url)
        factory = make_session_factory(engine)

        def activity() -> dict[str, int]:
            with session_scope(factory) as session:
                return store.database_activity(session)

        setup: dict[str, float] = {}
        begin = time.perf_counter()
        run([*PAPERBOY, "db", "upgrade"], env, log, "paperboy db upgrade")
        setup["db upgrade"] = time.perf_counter() - begin
        begin = time.perf_counter()
        made = run(
            [sys.executable, __file__, "populate", url, str(subscribers)], env, log, "populate"
        )
        setup["populate"] = time.perf_counter() - begin
        setup["populate_rss_mib"] = made.maxrss_kib / MB
        print(
            f"setup: db upgrade {setup['db upgrade']:.1f} s; {made.stdout.strip()} in {setup['populate']:.1f} s",
            flush=True,
        )

        stages: list[Stage] = []

        def measured(name: str, unit: str, body: Any) -> Stage:
            time.sleep(1.2)  # let idle backends flush their statistics (PGSTAT_MIN_INTERVAL 1 s)
            db0, pg0, sink0, self0 = (
                activity(),
                postgres_cpu(server.postmaster()),
                sink.ask("usage")[0],
                own_cpu(),
            )
            busy0 = machine_busy()
            begin = time.perf_counter()
            count, processes, note = body()
            seconds = time.perf_counter() - begin
            busy1 = machine_busy()
            time.sleep(1.2)
            db1, pg1, sink1, self1 = (
                activity(),
                postgres_cpu(server.postmaster()),
                sink.ask("usage")[0],
                own_cpu(),
            )
            cpu = {label: f.cpu for label, f in processes.items()}
            cpu["PostgreSQL"] = pg1 - pg0
            cpu["sink"] = sink1 - sink0
            cpu["bench"] = self1 - self0  # this process: its sampler thread and these readings
            # the machine's busy time during the stage, less ours: other users of this shared machine
            cpu["other"] = max(0.0, (busy1 - busy0) - sum(cpu.values()))
            stage = Stage(
                name, seconds, count, unit, cpu,
                {label: f.maxrss_kib / MB for label, f in processes.items()},
                {k: db1[k] - db0[k] for k in ("commits", "inserted", "updated", "deleted", "bytes")}, note,
            )  # fmt: skip
            stages.append(stage)
            print(
                f"{name:<28} {count:>8,} {unit:<9} {seconds:8.1f} s = {stage.rate:8,.0f} {unit}/s; CPU s: "
                + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
                + "; peak RSS MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in stage.rss_mib.items())
                + "; db: " + ", ".join(f"{k} {v:,}" for k, v in stage.db.items())
                + (f" ({note})" if note else ""),
                flush=True,
            )  # fmt: skip
            return stage

        def ingest() -> tuple[int, dict[str, Finished], str]:
            done = run(
                [*PAPERBOY, "ingest", "--file", str(seeds), "--json"], env, log, "paperboy ingest"
            )
            report = json.loads(done.stdout)
            return int(report["new"]), {"paperboy ingest": done}, f"{report['fetched']} fetched"

        def plan() -> tuple[int, dict[str, Finished], str]:
            done = run(
                [*PAPERBOY, "send", "--date", DATE.isoformat(), "--json"], env, log, "paperboy send"
            )
            report = json.loads(done.stdout)
            if report.get("failed") or report.get("queued") != subscribers:
                sys.exit(f"paperboy send planned {report}, expected {subscribers} queued")
            return int(report["queued"]), {"paperboy send": done}, f"{report['jobs']} jobs"

        def deliver() -> tuple[int, dict[str, Finished], str]:
            processes = [
                start(
                    [*PAPERBOY, "worker", "--once", "--name", f"w{n}"],
                    env,
                    folder / f"worker{n}.log",
                )
                for n in range(workers)
            ]
            finished = {
                f"worker {n}": finish(p, f"worker {n}", folder / f"worker{n}.log")
                for n, p in enumerate(processes)
            }
            accepted, recipients = sink.ask("count")
            return accepted, finished, f"{recipients:,} distinct recipients"

        def plan_and_deliver() -> tuple[int, dict[str, Finished], str]:
            # As deployed: long-running workers take each batch as the plan hands it over
            # (every 5,000 planned rows); stopped with SIGTERM once everything is sent.
            processes = [
                start([*PAPERBOY, "worker", "--name", f"w{n}"], env, folder / f"worker{n}.log")
                for n in range(workers)
            ]
            begin = time.perf_counter()
            planned = run(
                [*PAPERBOY, "send", "--date", DATE.isoformat(), "--json"], env, log, "paperboy send"
            )
            figures["plan_s"] = time.perf_counter() - begin
            report = json.loads(planned.stdout)
            if report.get("failed") or report.get("queued") != subscribers:
                sys.exit(f"paperboy send planned {report}, expected {subscribers} queued")
            while True:  # the queue is small and cheap to read; the deliveries, once it is empty
                with session_scope(factory) as session:
                    jobs = store.queue_status(session) or {}
                    idle = not jobs.get("waiting") and not jobs.get("running")
                    by_status = (
                        store.count_deliveries_by_status(session, digest_date=DATE) if idle else {}
                    )
                if by_status.get("sent") == subscribers:
                    break
                for n, p in enumerate(processes):
                    if p.poll() is not None:
                        finish(p, f"worker {n}", folder / f"worker{n}.log")
                        sys.exit(f"worker {n} stopped before the deliveries were done")
                time.sleep(2.0 if idle else 0.5)
            for p in processes:
                p.send_signal(signal.SIGTERM)
            finished = {
                "paperboy send": planned,
                **{
                    f"worker {n}": finish(p, f"worker {n}", folder / f"worker{n}.log")
                    for n, p in enumerate(processes)
                },
            }
            accepted, recipients = sink.ask("count")
            note = (
                f"plan {figures['plan_s']:.1f} s by `paperboy send` ({report['jobs']} jobs), "
                f"{recipients:,} distinct recipients"
            )
            return accepted, finished, note

        figures: dict[str, float] = {}
        measured("ingest", "papers", ingest)
        if overlap:
            measured(f"plan ∥ deliver ({workers}w)", "messages", plan_and_deliver)
        else:
            figures["plan_s"] = measured("plan + rank + record", "digests", plan).seconds
        with session_scope(factory) as session:
            items = store.count_delivery_items(session, digest_date=DATE)
        if not overlap:
            measured(f"render + deliver ({workers}w)", "messages", deliver)

        checks = []
        with session_scope(factory) as session:
            by_status = store.count_deliveries_by_status(session, digest_date=DATE)
            waiting = store.queue_jobs_waiting(session)
        accepted, recipients = sink.ask("count")
        checks.append(f"deliveries by status {by_status}")
        checks.append(f"sink accepted {accepted:,} messages for {recipients:,} recipients")
        checks.append(f"jobs left in the queue {waiting}")
        ok = (
            by_status == {"sent": subscribers}
            and accepted == recipients == subscribers
            and waiting == 0
        )
        print("checks: " + "; ".join(checks) + (" — OK" if ok else " — FAILED"), flush=True)
        if not ok:
            sys.exit(
                f"the cycle did not deliver exactly one digest per subscriber; logs in {folder}"
            )

        def tick() -> tuple[int, dict[str, Finished], str]:
            # As after a day of ticks: everybody's next digest is tomorrow; one scheduler tick.
            done = run([sys.executable, __file__, "tick", url], env, log, "nothing-due tick")
            report = json.loads(done.stdout)
            if report["planned"] or report["queued"]:
                sys.exit(f"the nothing-due tick found work: {report}")
            figures["tick_nothing_due_s"] = report["seconds"]
            return subscribers, {"tick": done}, f"send_due itself {report['seconds']:.3f} s"

        measured("next tick, nothing due", "subscribers", tick).in_cycle = False

        def pruning() -> tuple[int, dict[str, Finished], str]:
            done = run(
                [sys.executable, __file__, "prune", url, DATE.isoformat()], env, log, "prune"
            )
            report = json.loads(done.stdout)
            figures["db_bytes_per_digest_in_window"] = report["before"] / subscribers
            figures["db_bytes_per_digest"] = report["after"] / subscribers
            figures["prune_s"] = report["seconds"]
            note = f"deliveries + items {report['before']:,} → {report['after']:,} bytes"
            return int(report["pruned"]), {"prune": done}, note

        measured("prune, retention passed", "digests", pruning).in_cycle = False
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        sampler.done.set()
        sampler.join()
        sink_usage = sink.ask("usage")
        sink.stop()
        if engine is not None:
            engine.dispose()
        server.stop()
    stages[-3].rss_mib["sink"] = sink_usage[1] / MB  # the delivery stage (then tick, prune)
    return Cycle(
        subscribers,
        workers,
        stages,
        setup,
        sampler.pg_peak_kib / MB,
        load_before,
        sampler.load_max,
        items,
        checks,
        figures,
        overlap,
    )


# --- report --------------------------------------------------------------------------------------


def describe(c: Cycle) -> list[str]:
    lines = [
        "| stage | count | wall s | per s | CPU s: paperboy / PostgreSQL / sink / bench / other | peak RSS MiB (paperboy processes) | commits / rows ins / upd | database grew |",
        "|---|---:|---:|---:|---|---|---|---:|",
    ]
    for s in c.stages:
        own = sum(v for k, v in s.cpu.items() if k not in ("PostgreSQL", "sink", "bench", "other"))
        rss = ", ".join(f"{v:.0f}" for k, v in s.rss_mib.items() if k != "sink")
        lines.append(
            f"| {s.name if s.in_cycle else f'{s.name} (not in the cycle)'} | {s.count:,} {s.unit} | {s.seconds:.1f} | {s.rate:,.0f} | "
            f"{own:.1f} / {s.cpu['PostgreSQL']:.1f} / {s.cpu['sink']:.1f} / {s.cpu['bench']:.1f} / {s.cpu['other']:.1f} | {rss} | "
            f"{s.db['commits']:,} / {s.db['inserted']:,} / {s.db['updated']:,} | {s.db['bytes'] / 2**20:,.0f} MiB |"
        )  # fmt: skip
    lines.append(f"| **whole cycle** | | **{c.total:.1f}** | | | | | |")
    return lines


def build_in_child() -> float:
    """bench/build.py's CPU per built message, measured in a process of its own (`e2e.py build`):
    this one holds the whole run by then, and its collector's passes over all of it would be
    counted as building (1.51 ms a message once, against 0.93–1.05 in a fresh process)."""
    done = subprocess.run(
        [sys.executable, __file__, "build"], capture_output=True, text=True, timeout=900, check=True
    )
    return float(done.stdout.split()[-1])


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1] == "build":
        print(cycle_figures.build_cpu_ms_per_message())
        return
    if len(sys.argv) == 4 and sys.argv[1] == "populate":
        populate(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "tick":
        cycle_figures.nothing_due_tick(sys.argv[2])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "prune":
        cycle_figures.prune_after(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument(
        "--cycle-workers", type=int, default=2, help="worker processes in the full cycle"
    )
    parser.add_argument(
        "--workers", default="1,2", help="worker counts compared, comma-separated ('' for none)"
    )
    parser.add_argument("--compare-subscribers", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.0, help="sink reply latency in ms")
    parser.add_argument(
        "--no-fsync", action="store_true", help="PostgreSQL with fsync=off (as the tests)"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="PAPERBOY_DELIVERY_BATCH_SIZE")
    parser.add_argument("--concurrency", type=int, default=None, help="PAPERBOY_WORKER_CONCURRENCY")
    parser.add_argument("--connections", type=int, default=None, help="PAPERBOY_SMTP_CONNECTIONS")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results.md")
    parser.add_argument(
        "--sequential", action="store_true",
        help="full cycle: plan everything, then start the workers (as before queueing streamed)",
    )  # fmt: skip
    parser.add_argument(
        "--sink", choices=("lean", "aiosmtpd"), default="lean",
        help="bench/lean_sink.py (default) or tests/support/smtp_sink.py",
    )  # fmt: skip
    parser.add_argument(
        "--tick-only", action="store_true",
        help="only populate --subscribers and time a scheduler tick with nothing due (no cycle)",
    )  # fmt: skip
    args = parser.parse_args()
    args.settings = {
        name: value
        for name, value in (
            ("DELIVERY_BATCH_SIZE", args.batch_size),
            ("WORKER_CONCURRENCY", args.concurrency),
            ("SMTP_CONNECTIONS", args.connections),
        )
        if value is not None
    }
    from service.settings import Settings

    defaults = Settings.model_fields
    shown = {
        name: args.settings.get(name, defaults[name.lower()].default)
        for name in ("DELIVERY_BATCH_SIZE", "WORKER_CONCURRENCY", "SMTP_CONNECTIONS")
    }
    print(
        "settings: " + ", ".join(f"PAPERBOY_{k}={v}" for k, v in shown.items())
        + f"; sink latency {args.latency:g} ms; PostgreSQL fsync {'off' if args.no_fsync else 'on'}",
        flush=True,
    )  # fmt: skip

    if args.tick_only:
        server = BenchPostgres(fsync=not args.no_fsync)
        server.start()
        try:
            figures = cycle_figures.tick_only(__file__, server, args.subscribers)
        finally:
            server.stop()
        if not args.no_record:
            record_section(TICK_ONLY, [
                f"{dt.date.today().isoformat()}, `bench/e2e.py --tick-only --subscribers {args.subscribers}`, "
                f"{cpu_name()} ({os.cpu_count()} CPUs, shared), PostgreSQL fsync {'off' if args.no_fsync else 'on'}; "
                "every subscriber's next digest set to tomorrow, then one `send_due` tick timed in-process (the "
                "second of two: the first connects and compiles). Last line printed:",
                "", "```json", json.dumps(figures), "```",
            ])  # fmt: skip
        print(json.dumps(figures), flush=True)
        return
    began = time.perf_counter()
    full = cycle(
        args, subscribers=args.subscribers, workers=args.cycle_workers, overlap=not args.sequential
    )
    compared = [
        cycle(args, subscribers=args.compare_subscribers, workers=int(n))
        for n in args.workers.split(",")
        if n.strip()
    ]
    bench_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MB
    elapsed = time.perf_counter() - began

    print(f"\nfull cycle, {full.subscribers:,} subscribers, {full.workers} workers: {full.total:.1f} s "
          f"({full.total / 60:.1f} min; target {target(full.subscribers)})")  # fmt: skip
    everything = [full, *compared]
    peak = max(max(max(s.rss_mib.values()) for s in c.stages) for c in everything)
    print(f"peak RSS: bench process {bench_rss:.0f} MiB; largest paperboy/sink process {peak:.0f} MiB; "
          f"largest PostgreSQL process {max(c.pg_peak_mib for c in everything):.0f} MiB (shared buffers included); "
          f"populate child {max(c.setup['populate_rss_mib'] for c in everything):.0f} MiB (target < 1 GiB each)")  # fmt: skip
    scaling = ""
    if compared:
        rates = {c.workers: c.stages[-3].rate for c in compared}
        base = rates.get(1) or next(iter(rates.values()))
        scaling = "; ".join(
            f"{w} worker(s) {r:,.0f} messages/s ({r / base:.2f}×)" for w, r in rates.items()
        )
        print(f"delivery, {args.compare_subscribers:,} subscribers: {scaling}")
    print(f"bench wall time {elapsed:.0f} s")
    summary = one_line(full, everything)
    if not args.no_record:
        record(args, full, compared, bench_rss, scaling, shown)
        record_section(SUMMARY, [
            f"{dt.date.today().isoformat()}, `bench/e2e.py --subscribers {args.subscribers} --cycle-workers "
            f"{args.cycle_workers} --workers '{args.workers}'`, {cpu_name()} ({os.cpu_count()} CPUs, shared); "
            "the last line it printed:", "", "```json", json.dumps(summary), "```",
        ])  # fmt: skip
        print(f"recorded in {RESULTS.relative_to(ROOT)}")
    print(json.dumps(summary), flush=True)  # the last line: one JSON object


def target(subscribers: int) -> str:
    """The whole-cycle target for this size: issue 17's for a million, the earlier one below."""
    return "≤ 30 min (issue 17)" if subscribers >= 1_000_000 else "< 10 min at 100,000"


SUMMARY = "## The daily cycle in one line (`bench/e2e.py`, last line)"
TICK_ONLY = "## A scheduler tick with nothing due (`bench/e2e.py --tick-only`)"


def one_line(full: Cycle, everything: list[Cycle]) -> dict[str, Any]:
    """The figures issue 17 asks for, of the full cycle."""
    deliver = full.stages[-3]  # delivery, or planning and delivery overlapped; then tick, prune
    workers = sum(v for k, v in deliver.cpu.items() if k.startswith("worker"))
    peak = max(
        max(max(s.rss_mib.values()) for s in c.stages) for c in everything
    )  # paperboy processes and the sink
    figures = full.figures
    return {
        "subscribers": full.subscribers,
        "whole_cycle_s": round(full.total, 1),
        "plan_per_s": round(full.subscribers / full.figures["plan_s"], 1),
        "overlapped": full.overlap,
        "deliver_per_s": round(deliver.rate, 1),
        "commits_per_message": round(deliver.db["commits"] / max(deliver.count, 1), 3),
        "peak_rss_mib": round(max(peak, max(c.pg_peak_mib for c in everything)), 1),
        "peak_rss_mib_paperboy": round(peak, 1),
        "tick_nothing_due_s": round(figures.get("tick_nothing_due_s", float("nan")), 3),
        "db_bytes_per_digest": round(figures.get("db_bytes_per_digest", float("nan")), 1),
        "db_bytes_per_digest_in_window": round(
            figures.get("db_bytes_per_digest_in_window", float("nan")), 1
        ),
        "worker_cpu_ms_per_message": round(workers / max(deliver.count, 1) * 1000, 3),
        "build_cpu_ms_per_message": round(build_in_child(), 3),
    }


def record(
    args: argparse.Namespace,
    full: Cycle,
    compared: list[Cycle],
    bench_rss: float,
    scaling: str,
    shown: dict[str, Any],
) -> None:
    """Append a dated section (earlier runs stay, for comparison)."""
    lines = [
        f"## Full daily cycle on PostgreSQL (`bench/e2e.py`), {dt.date.today().isoformat()}",
        "",
        f"Python {platform.python_version()} on {cpu_name()} ({os.cpu_count()} CPUs, shared with other work: "
        "see the \"other\" CPU column and the load). PostgreSQL "
        f"{_bindir().parent.name if _bindir() else '?'} in a temp folder, fsync {'off' if args.no_fsync else 'on'}, "
        f"default configuration; the sink ({'bench/lean_sink.py' if args.sink == 'lean' else 'tests/support/smtp_sink.py'}, counting only) in its own process, reply latency "
        f"{args.latency:g} ms; everything on this one machine. "
        + ", ".join(f"`PAPERBOY_{k}={v}`" for k, v in shown.items())
        + f". Command: `bench/e2e.py --subscribers {args.subscribers} --cycle-workers {args.cycle_workers} "
        f"--workers '{args.workers}' --compare-subscribers {args.compare_subscribers}"
        + (f" --latency {args.latency:g}" if args.latency else "") + (" --no-fsync" if args.no_fsync else "") + "`.",
        "",
    ]  # fmt: skip
    for c in [full, *compared]:
        title = "Full cycle" if c is full else "Worker comparison"
        lines += [
            f"**{title}: {c.subscribers:,} subscribers, {c.workers} worker process(es)** — "
            f"{c.items:,} papers recorded in the digests ({c.items / c.subscribers:.1f} a digest); load average "
            f"{c.load_before:.2f} at the start, {c.load_max:.2f} at most; setup (not in the cycle): db upgrade "
            f"{c.setup['db upgrade']:.1f} s, inserting the subscribers {c.setup['populate']:.1f} s.",
            "",
            *describe(c),
            "",
        ]  # fmt: skip
    peak = max(max(max(s.rss_mib.values()) for s in c.stages) for c in [full, *compared])
    lines += [
        f"Whole cycle for {full.subscribers:,}: **{full.total:.0f} s ({full.total / 60:.1f} min)**, target {target(full.subscribers)}. "
        f"Peak RSS: bench process {bench_rss:.0f} MiB, largest `paperboy` process or sink {peak:.0f} MiB, largest "
        f"PostgreSQL process {max(c.pg_peak_mib for c in [full, *compared]):.0f} MiB (its shared buffers included), "
        "target < 1 GB each."
        + (f" Delivery 1 → 2 workers ({args.compare_subscribers:,} subscribers): {scaling}." if scaling else "")
        + " Checks after each run: every delivery `sent`, the sink accepted exactly one message per subscriber, "
        "no job left in the queue. What the figures mean: docs/scaling.md.",
        "",
    ]  # fmt: skip
    text = RESULTS.read_text().rstrip("\n") + "\n\n" + "\n".join(lines)
    RESULTS.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
