"""Exactly once under a slow, vanishing or hung relay, and a database that stops taking writes.

Real parts throughout: aiosmtpd on 127.0.0.1 scripted to answer the end of DATA late or not at
all, a plain socket server that accepts and never greets, and the real database made read-only
mid-run (SQLite's `PRAGMA query_only`, PostgreSQL's `SET TRANSACTION READ ONLY`, set on every
transaction from the moment the relay has taken a few messages).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import Engine, event

from service.cli.main import cli
from service.delivery.planning import send_due
from service.delivery.run import SendReport
from service.delivery.runtime import Runtime
from service.delivery.smtp_mailer import SmtpMailer
from service.digest.message import build_message
from service.ledger.ingest import ingest_file
from service.records import RenderedDigest
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope

T0 = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)
NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
READERS = [f"reader{n}@example.org" for n in range(4)]


class Relay:
    """aiosmtpd whose handler takes each message, then answers its end late, or never.

    `delay`: seconds before the 250 (the message is already taken). `drop_at`: the 1-based
    numbers of messages after which the connection closes without a reply (also taken).
    `on_message(n)` runs in the server thread after message n is taken.
    """

    def __init__(self, *, delay: float = 0.0, drop_at: tuple[int, ...] = ()) -> None:
        self.delay = delay
        self.drop_at = drop_at
        self.accepted: Counter[str] = Counter()
        self.on_message: Any = None
        self._lock = threading.Lock()
        self._count = 0
        relay = self

        class _Controller(Controller):
            def _trigger_server(self) -> None:  # learn the port the OS chose (port=0)
                assert self.server is not None
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        self._controller = _Controller(relay, hostname="127.0.0.1", port=0)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self._lock:
            self._count += 1
            number = self._count
            for address in envelope.rcpt_tos:
                self.accepted[address] += 1
        if self.on_message is not None:
            self.on_message(number)
        if number in self.drop_at:
            server.transport.close()
            return "421 4.4.2 gone"  # never reaches the client
        await asyncio.sleep(self.delay)
        return "250 2.0.0 queued"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._controller.port}"

    def __enter__(self) -> Relay:
        self._controller.start()
        with self._lock:
            self.accepted.clear()  # aiosmtpd's readiness probe sends no message; be sure
            self._count = 0
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@pytest.fixture
def hung_relay() -> Iterator[str]:
    """A TCP server that accepts every connection and never writes a byte: smtp://host:port."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stopping.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"smtp://127.0.0.1:{server.getsockname()[1]}"
    stopping.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def readers_runtime(
    runtime: Runtime,
    smtp_url: str,
    *,
    readers: list[str] = READERS,
    cadence: str = "daily",
    **settings: Any,
) -> Runtime:
    updated = runtime.settings.model_copy(
        update={"smtp_url": smtp_url, "smtp_connections": 1, "retry_base_seconds": 60, **settings}
    )
    faulty = Runtime(updated, _engine=runtime.engine)
    ingest_file(faulty.factory, path=sample_listings_path(), source="sample", now=T0)
    with session_scope(faulty.factory) as session:
        for address in readers:
            store.add_subscriber(
                session, email=address, status="active", timezone="UTC", delivery_hour=8, cadence=cadence,
                max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=T0,
            )  # fmt: skip
    return faulty


def send(runtime: Runtime, now: dt.datetime, date: dt.date | None = None) -> SendReport:
    with runtime.mailer() as mailer:
        return send_due(runtime.pipeline, mailer=mailer, now=now, digest_date=date)


def by_status(runtime: Runtime) -> dict[str, int]:
    with session_scope(runtime.factory) as session:
        return store.count_deliveries_by_status(session)


def cli_env(runtime: Runtime, **extra: str) -> dict[str, str]:
    settings = runtime.settings
    return {
        "PAPERBOY_DATABASE_URL": settings.database_url, "PAPERBOY_SMTP_URL": str(settings.smtp_url),
        "PAPERBOY_SMTP_CONNECTIONS": str(settings.smtp_connections),
        "PAPERBOY_SMTP_TIMEOUT_SECONDS": str(settings.smtp_timeout_seconds),
        "PAPERBOY_SECRET_KEY": "test-secret-key-0123456789", **extra,
    }  # fmt: skip


def message(to: str) -> Any:
    rendered = RenderedDigest(subject="Digest", text="hello\n", html="<p>hello</p>")
    return build_message(
        rendered, to=to, from_addr="digest@paperboy.example.org", base_url="https://paperboy.example.org",
        unsubscribe_url="/unsubscribe/x", list_id="digest.paperboy.example.org",
    )  # fmt: skip


# --------------------------------------------------------------------------- 1. slow or no reply


def test_a_reply_to_the_end_of_data_later_than_the_command_timeout_still_counts() -> None:
    # The relay takes every message and answers its end after 1.5 s: past the 0.5 s command
    # timeout, within the data timeout. Each recipient gets one copy and each send succeeds.
    with Relay(delay=1.5) as relay, SmtpMailer(relay.url, timeout=0.5, data_timeout=30) as mailer:
        for address in READERS[:3]:
            mailer.send(message(address))
        assert mailer.connections == 1
    assert relay.accepted == Counter({address: 1 for address in READERS[:3]})


def test_a_slow_relay_delivers_each_digest_once_and_records_it_sent(runtime: Runtime) -> None:
    with Relay(delay=1.2) as relay:
        faulty = readers_runtime(
            runtime,
            relay.url,
            smtp_connections=2,
            smtp_timeout_seconds=0.4,
            smtp_data_timeout_seconds=30,
        )
        report = send(faulty, NOW)
        assert (report.sent, report.deferred, report.in_doubt) == (4, 0, 0)
        assert send(faulty, NOW + dt.timedelta(hours=1)).sent == 0
    assert relay.accepted == Counter({address: 1 for address in READERS})
    assert by_status(faulty) == {"sent": 4}


def test_no_reply_after_the_message_leaves_it_in_doubt_and_never_resent(runtime: Runtime) -> None:
    # One connection, reused: the second message is taken, then the connection closes with no
    # reply. Resending on a new connection would deliver it twice; it is left in doubt instead.
    with Relay(drop_at=(2,)) as relay:
        faulty = readers_runtime(runtime, relay.url, smtp_timeout_seconds=2)
        report = send(faulty, NOW)
        assert (report.sent, report.deferred, report.in_doubt) == (3, 0, 1)
        [doubt] = [o for o in report.outcomes if o.status == "in_doubt"]
        assert "in doubt" in doubt.detail and "not sent again" in doubt.detail
        assert relay.accepted == Counter({address: 1 for address in READERS})
        # Later runs the same day (past any retry time) leave it alone; the status says why.
        for later in (dt.timedelta(minutes=2), dt.timedelta(hours=2)):
            rerun = send(faulty, NOW + later)
            assert (rerun.sent, rerun.in_doubt) == (0, 0)
        assert relay.accepted == Counter({address: 1 for address in READERS})
        assert by_status(faulty) == {"sent": 3, "in_doubt": 1}
        with session_scope(faulty.factory) as session:
            [error] = [
                row[4]
                for row in store.recent_delivery_errors(session, limit=5)
                if row[2] == "in_doubt"
            ]
            assert "in doubt" in error
        # The next day's digest goes out as usual, to everybody.
        next_day = send(faulty, NOW + dt.timedelta(days=1))
        assert next_day.sent == 4
    assert relay.accepted == Counter({address: 2 for address in READERS})


def test_a_weekly_digest_in_doubt_counts_as_this_week_s_digest(runtime: Runtime) -> None:
    with Relay(drop_at=(1,)) as relay:
        faulty = readers_runtime(
            runtime,
            relay.url,
            readers=["weekly@example.org"],
            cadence="weekly",
            smtp_timeout_seconds=2,
        )
        assert send(faulty, NOW).in_doubt == 1
        # The next days are not a new week: no second digest while the first may have arrived.
        for days in (1, 3, 6):
            assert send(faulty, NOW + dt.timedelta(days=days)).sent == 0
        assert send(faulty, NOW + dt.timedelta(days=7)).sent == 1
    assert relay.accepted == Counter({"weekly@example.org": 2})


def test_send_reports_a_digest_in_doubt_and_exits_non_zero(runtime: Runtime) -> None:
    with Relay(drop_at=(1,)) as relay:
        faulty = readers_runtime(runtime, relay.url, smtp_timeout_seconds=2)
        date = NOW.date().isoformat()
        result = CliRunner().invoke(cli, ["send", "--date", date, "--json"], env=cli_env(faulty))
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["sent"], report["in_doubt"]) == (3, 1)
    assert "in doubt" in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- 2. read-only store


@pytest.fixture
def read_only_switch() -> Iterator[threading.Event]:
    """While set, every new transaction on any engine is read-only (the database refuses writes)."""
    switch = threading.Event()

    def begin(conn: Any) -> None:
        if not switch.is_set():
            return
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA query_only = ON")
        else:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    def checkin(dbapi_connection: Any, _record: Any) -> None:
        # Pooled SQLite connections keep the pragma: clear it as they go back to the pool.
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.execute("PRAGMA query_only = OFF")

    event.listen(Engine, "begin", begin)
    event.listen(Engine, "checkin", checkin)
    yield switch
    event.remove(Engine, "begin", begin)
    event.remove(Engine, "checkin", checkin)


def test_a_database_that_stops_taking_writes_stops_the_run_at_once(
    runtime: Runtime, read_only_switch: threading.Event
) -> None:
    readers = READERS + [f"more{n}@example.org" for n in range(12)]  # 16 digests
    connections = batch = 2  # a sender claims, sends and records two at a time
    with Relay() as relay:
        faulty = readers_runtime(
            runtime, relay.url, smtp_connections=connections, smtp_timeout_seconds=5,
            send_claim_batch=batch,
        )  # fmt: skip
        with session_scope(faulty.factory) as session:
            for address in readers[len(READERS) :]:
                store.add_subscriber(
                    session, email=address, status="active", timezone="UTC", delivery_hour=8, cadence="daily",
                    max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=T0,
                )  # fmt: skip
        # After the third message is taken, the database turns read-only.
        relay.on_message = lambda n: read_only_switch.set() if n == 3 else None
        date = NOW.date().isoformat()
        env = cli_env(faulty, PAPERBOY_SEND_CLAIM_BATCH=str(batch))
        result = CliRunner().invoke(cli, ["send", "--date", date, "--json"], env=env)
        read_only_switch.clear()
        assert result.exit_code == 1, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("paperboy:")]
        assert len(errors) == 1 and "send stopped" in errors[0] and "database" in errors[0], (
            result.stderr
        )
        assert "Traceback" not in result.stderr
        assert json.loads(result.stdout)["aborted"]
        taken = sum(relay.accepted.values())
        # No message went to SMTP after the first refused write, beyond the claimed batch's rest.
        assert 3 <= taken <= 3 + batch - 1 < len(readers)
        # Once the database is back and the dead claims' leases are over, the rest goes out; a
        # digest taken but never recorded may come twice: at most one claimed batch.
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=faulty.settings.lease_seconds + 1)
        report = send(faulty, later, NOW.date())
        assert report.aborted is None
    assert set(relay.accepted) == set(readers)
    duplicates = sum(n - 1 for n in relay.accepted.values())
    assert duplicates <= batch
    assert by_status(faulty) == {"sent": len(readers)}


# --------------------------------------------------------------------------- 3. hung relay


def test_a_hung_relay_opens_the_breaker_and_send_exits_non_zero(
    runtime: Runtime, hung_relay: str
) -> None:
    faulty = readers_runtime(runtime, hung_relay, smtp_timeout_seconds=0.3, breaker_threshold=2)
    date = NOW.date().isoformat()
    result = CliRunner().invoke(
        cli, ["send", "--date", date, "--json"], env=cli_env(faulty, PAPERBOY_BREAKER_THRESHOLD="2")
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["sent"], report["deferred"], report["left"]) == (0, 2, 2)
    assert "timeouts in a row" in report["paused"] and "circuit breaker" in result.stderr
    assert by_status(faulty) == {"deferred": 2, "pending": 2}


def test_send_exits_non_zero_when_it_could_send_nothing(runtime: Runtime, hung_relay: str) -> None:
    # Fewer timeouts than the breaker's threshold: the run ends, nothing was sent, exit 1.
    faulty = readers_runtime(runtime, hung_relay, smtp_timeout_seconds=0.3)
    date = NOW.date().isoformat()
    result = CliRunner().invoke(
        cli, ["send", "--date", date, "--only", READERS[0], "--json"], env=cli_env(faulty)
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["deferred"] == 1
    assert "could send nothing" in result.stderr
