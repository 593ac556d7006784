"""The fault suite: `send_due` through Paperboy's SMTP pool against the real aiosmtpd sink misbehaving.

Every scripted fault hits the first message of a run (one connection, subscribers in id order), so
the outcomes per digest are exact: a transient fault (421, 451, 452, a drop during DATA, a stall past the
timeout) defers that digest and a later run, once its retry time has come, delivers it exactly
once; a permanent one (550, 554, 5.7.26) fails it and no run ever tries it again. Retry times are
shortened by settings and later runs are given a later `now`, so nothing waits for the clock.
Where several connections race (parallel sends, a killed run), the tests check what arrived and
the documented bounds (never more connections than configured, duplicates only for messages in
flight), not how the race went.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.main import cli
from service.delivery.planning import send_due
from service.delivery.run import SendReport
from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file, utcnow
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope
from tests.support.smtp_sink import SmtpSink

T0 = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)
NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
# Past PAPERBOY_RETRY_BASE_SECONDS=60, the first retry delay, with room for the run itself: its
# clock moves on while it sends (a stall, a slow machine), and the retry time counts from there.
SLACK = dt.timedelta(seconds=20)
RETRY = dt.timedelta(seconds=60) + SLACK
READERS = [f"reader{n}@example.org" for n in range(5)]

TRANSIENT = {
    "421": "421 4.7.0 too many connections, closing transmission channel",
    "451": "451 4.3.0 temporary local problem, try again",
    "452": "452 4.3.1 insufficient system storage",
}
PERMANENT = {
    "550": "550 5.1.1 user unknown",
    "554": "554 5.6.0 message content refused",
    "5.7.26": "550 5.7.26 unauthenticated email from example.org is not accepted (DMARC)",
}


@pytest.fixture
def faulty(runtime: Runtime, smtp_sink: SmtpSink) -> Runtime:
    """A runtime sending to the sink: one connection, retries after 60 s, 3 attempts."""
    settings = runtime.settings.model_copy(
        update={
            "smtp_url": smtp_sink.url, "smtp_connections": 1, "smtp_timeout_seconds": 10,
            "retry_base_seconds": 60, "retry_max_attempts": 3, "breaker_threshold": 3,
        }
    )  # fmt: skip
    faulty = Runtime(settings, _engine=runtime.engine)
    ingest_file(faulty.factory, path=sample_listings_path(), source="sample", now=T0)
    add(faulty, READERS)
    return faulty


def add(runtime: Runtime, emails: list[str], hour: int = 8) -> None:
    with session_scope(runtime.factory) as session:
        for address in emails:
            store.add_subscriber(
                session, email=address, status="active", timezone="UTC", delivery_hour=hour, cadence="daily",
                max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=T0,
            )  # fmt: skip


def send(runtime: Runtime, now: dt.datetime) -> SendReport:
    with runtime.mailer() as mailer:
        return send_due(runtime.pipeline, mailer=mailer, now=now)


def send_today(runtime: Runtime, now: dt.datetime) -> SendReport:
    """What `paperboy send --date TODAY` does, in-process, at ``now``."""
    with runtime.mailer() as mailer:
        return send_due(runtime.pipeline, mailer=mailer, now=now, digest_date=dt.date.today())


def duplicates_of(sink: SmtpSink) -> int:
    return sum(n - 1 for n in sink.accepted.values())


def counts(report: SendReport) -> tuple[int, int, int]:
    return report.sent, report.deferred, report.failed


def by_status(runtime: Runtime) -> dict[str, int]:
    with session_scope(runtime.factory) as session:
        return store.count_deliveries_by_status(session)


def subscriber_statuses(runtime: Runtime) -> dict[str, str]:
    with session_scope(runtime.factory) as session:
        return {s.email: s.status for s in store.list_subscribers(session)}


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
@pytest.mark.parametrize("code", list(TRANSIENT))
def test_transient_replies_defer_and_deliver_exactly_once(
    faulty: Runtime, smtp_sink: SmtpSink, code: str, stage: str
) -> None:
    smtp_sink.fail_next(1, TRANSIENT[code], stage=stage)
    assert counts(send(faulty, NOW)) == (4, 1, 0)
    assert by_status(faulty) == {"sent": 4, "deferred": 1}
    assert counts(send(faulty, NOW + dt.timedelta(seconds=30))) == (0, 0, 0)  # retry not due yet
    assert counts(send(faulty, NOW + RETRY)) == (1, 0, 0)
    assert counts(send(faulty, NOW + 2 * RETRY)) == (0, 0, 0)
    assert smtp_sink.accepted == Counter({address: 1 for address in READERS})
    assert by_status(faulty) == {"sent": 5}


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
@pytest.mark.parametrize("code", list(PERMANENT))
def test_permanent_replies_fail_and_are_never_retried(
    faulty: Runtime, smtp_sink: SmtpSink, code: str, stage: str
) -> None:
    smtp_sink.fail_next(1, PERMANENT[code], stage=stage)
    assert counts(send(faulty, NOW)) == (4, 0, 1)
    for later in (RETRY, 2 * RETRY, dt.timedelta(hours=3)):
        assert counts(send(faulty, NOW + later)) == (0, 0, 0)
    assert smtp_sink.commands["mail"] == 5  # the failed digest was offered once, never again
    assert smtp_sink.accepted == Counter({address: 1 for address in READERS[1:]})
    assert by_status(faulty) == {"sent": 4, "failed": 1}
    # Only a 5.1.1 to RCPT or DATA says the address is bad; the rest leave the subscriber alone.
    hard = code == "550" and stage in ("rcpt", "data")
    assert subscriber_statuses(faulty)[READERS[0]] == ("bounced" if hard else "active")


@pytest.mark.parametrize(("fault", "stage"), [("stall", "mail"), ("drop", "rcpt")])
def test_drops_and_stalls_before_the_message_is_sent_are_transient(
    faulty: Runtime, smtp_sink: SmtpSink, fault: str, stage: str
) -> None:
    if fault == "drop":
        smtp_sink.drop_next(1, stage=stage)
    else:
        # A short timeout (still far above a reply's time on a loaded machine), a longer stall.
        faulty.settings.smtp_timeout_seconds = 1.5
        smtp_sink.stall_next(1, 30.0, stage=stage)
    first = send(faulty, NOW)
    assert counts(first) == (4, 1, 0)
    [deferred] = [o for o in first.outcomes if o.status == "deferred"]
    assert deferred.email == READERS[0]
    assert ("timed out" if fault == "stall" else "closed the connection") in deferred.detail
    assert counts(send(faulty, NOW + RETRY)) == (1, 0, 0)
    assert smtp_sink.accepted == Counter({address: 1 for address in READERS})


@pytest.mark.parametrize("fault", ["drop", "stall"])
def test_a_drop_or_stall_after_the_message_went_out_is_in_doubt_never_resent(
    faulty: Runtime, smtp_sink: SmtpSink, fault: str
) -> None:
    # RFC 5321 4.5.3.2: once the whole message was sent, the server may have taken it; sending it
    # again could deliver it twice, so the digest is "in doubt" and never sent again.
    if fault == "drop":
        smtp_sink.drop_next(1, stage="data")
    else:
        faulty.settings.smtp_timeout_seconds = 1.5
        faulty.settings.smtp_data_timeout_seconds = 1.5
        smtp_sink.stall_next(1, 30.0, stage="data")
    send(faulty, NOW)
    for later in (RETRY, 2 * RETRY):
        send(faulty, NOW + later)
    assert by_status(faulty) == {"sent": 4, "in_doubt": 1}
    assert all(n == 1 for n in smtp_sink.accepted.values())  # nothing twice


def test_latency_with_parallel_connections_delivers_each_digest_once(
    faulty: Runtime, smtp_sink: SmtpSink
) -> None:
    faulty.settings.smtp_connections = 3
    add(faulty, [f"more{n}@example.org" for n in range(7)])
    smtp_sink.latency = 0.02
    assert counts(send(faulty, NOW)) == (12, 0, 0)
    # How many of the three the threads got to open depends on scheduling; never more.
    assert 1 <= smtp_sink.connections <= 3
    assert set(smtp_sink.accepted.values()) == {1} and len(smtp_sink.accepted) == 12


def test_retries_stop_at_the_limit_and_count_as_a_soft_bounce(
    faulty: Runtime, smtp_sink: SmtpSink
) -> None:
    later = NOW
    for attempt in range(1, 4):
        smtp_sink.fail_next(1, TRANSIENT["452"], stage="rcpt")
        report = send(faulty, later)
        assert counts(report) == (
            (4, 1, 0) if attempt == 1 else (0, 1, 0) if attempt < 3 else (0, 0, 1)
        )
        later += dt.timedelta(seconds=60 * 2 ** (attempt - 1)) + SLACK  # 60 s, then 120 s
    [failed] = [o for o in report.outcomes if o.status == "failed"]
    assert "gave up after 3 attempts" in failed.detail
    assert counts(send(faulty, later + dt.timedelta(hours=1))) == (0, 0, 0)
    assert smtp_sink.commands["rcpt"] == 4 + 3
    with session_scope(faulty.factory) as session:
        reader = store.get_subscriber(session, email=READERS[0])
        assert reader is not None and (reader.status, reader.soft_bounces) == ("active", 1)


def cli_env(runtime: Runtime, sink: SmtpSink, **extra: str) -> dict[str, str]:
    return {
        "PAPERBOY_DATABASE_URL": runtime.settings.database_url, "PAPERBOY_SMTP_URL": sink.url,
        "PAPERBOY_SMTP_CONNECTIONS": "1", "PAPERBOY_BREAKER_THRESHOLD": "3", **extra,
    }  # fmt: skip


def test_a_burst_of_policy_refusals_pauses_the_run_and_loses_nothing(
    faulty: Runtime, smtp_sink: SmtpSink
) -> None:
    add(faulty, [f"more{n}@example.org" for n in range(3)])  # 8 subscribers
    smtp_sink.fail_next(100, PERMANENT["5.7.26"], stage="mail")
    date = ["--date", NOW.date().isoformat()]
    result = CliRunner().invoke(cli, ["send", *date, "--json"], env=cli_env(faulty, smtp_sink))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("sent", "failed", "deferred", "left")} == {
        "sent": 0,
        "failed": 3,
        "deferred": 0,
        "left": 5,
    }
    assert "5.7.26" in report["paused"] and "circuit breaker" in result.stderr
    assert by_status(faulty) == {"failed": 3, "pending": 5}  # the rest wait, not failed
    assert smtp_sink.commands["mail"] == 3
    smtp_sink.clear()  # the operator fixed DMARC
    result = CliRunner().invoke(cli, ["send", *date, "--json"], env=cli_env(faulty, smtp_sink))
    assert result.exit_code == 0 and json.loads(result.stdout)["sent"] == 5
    assert by_status(faulty) == {"failed": 3, "sent": 5} and sum(smtp_sink.accepted.values()) == 5


def test_the_per_run_cap_leaves_the_rest_for_the_next_run(
    faulty: Runtime, smtp_sink: SmtpSink
) -> None:
    faulty.settings.send_max_per_run = 2
    faulty.settings.smtp_connections = 2
    runs = [send(faulty, NOW + dt.timedelta(minutes=m)) for m in range(4)]
    assert [(r.sent, r.left) for r in runs] == [(2, 3), (2, 1), (1, 0), (0, 0)]
    assert smtp_sink.accepted == Counter({address: 1 for address in READERS})


def send_in_a_process(
    env: dict[str, str], cwd: Path, smtp_sink: SmtpSink, *, until_accepted: int
) -> subprocess.Popen[bytes]:
    """`paperboy send` for today in its own process, returned once the relay has accepted
    ``until_accepted`` messages (or the process ended, or a minute passed)."""
    command = [
        sys.executable,
        "-m",
        "service",
        "send",
        "--date",
        dt.date.today().isoformat(),
        "--json",
    ]
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while (
        sum(smtp_sink.accepted.values()) < until_accepted
        and process.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    return process


def test_a_killed_send_is_finished_by_the_next_run_without_duplicates_beyond_the_in_flight(
    faulty: Runtime, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    connections = batch = 4  # a sender claims, sends and records four at a time
    readers = READERS + [f"more{n}@example.org" for n in range(35)]  # 40 digests
    add(faulty, readers[5:])
    smtp_sink.latency = 0.03  # ~0.15 s a message a connection: the run takes a few seconds
    env = {
        **os.environ, **cli_env(faulty, smtp_sink), "PAPERBOY_SMTP_CONNECTIONS": str(connections),
        "PAPERBOY_LEASE_SECONDS": "1", "PAPERBOY_SECRET_KEY": "test-secret-key-0123456789",
        "PAPERBOY_SEND_CLAIM_BATCH": str(batch),
    }  # fmt: skip
    process = send_in_a_process(env, tmp_path, smtp_sink, until_accepted=12)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    before = sum(smtp_sink.accepted.values())
    assert process.returncode == -signal.SIGKILL and 12 <= before < len(readers), "killed mid-run"
    with session_scope(faulty.factory) as session:
        in_flight = store.count_deliveries_by_status(session).get("sending", 0)
    assert in_flight <= batch  # at most the claimed, unrecorded batch (maybe none)

    # The next run (here in-process), 2 s later by its clock: every claim had a 1 s lease from
    # before the kill, so all have run out and it takes them over.
    smtp_sink.latency = 0
    restart = send_today(faulty, utcnow() + dt.timedelta(seconds=2))
    assert restart.sent == len(readers) - before + duplicates_of(smtp_sink)
    assert by_status(faulty) == {"sent": len(readers)}
    assert set(smtp_sink.accepted) == set(readers)  # every digest arrived
    assert duplicates_of(smtp_sink) <= in_flight <= batch


def test_sigterm_finishes_the_messages_in_flight_and_leaves_the_rest_open(
    faulty: Runtime, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    readers = READERS + [f"more{n}@example.org" for n in range(35)]  # 40 digests
    add(faulty, readers[5:])
    smtp_sink.latency = 0.03
    env = {
        **os.environ, **cli_env(faulty, smtp_sink), "PAPERBOY_SMTP_CONNECTIONS": "4",
        "PAPERBOY_SECRET_KEY": "test-secret-key-0123456789",
    }  # fmt: skip
    process = send_in_a_process(env, tmp_path, smtp_sink, until_accepted=8)
    process.send_signal(signal.SIGTERM)  # docker stop
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout)
    arrived = sum(smtp_sink.accepted.values())
    assert 8 <= arrived < len(readers), "stopped mid-run"
    # Every message the server accepted is recorded sent; nothing is left claimed; the rest waits.
    assert by_status(faulty) == {"sent": arrived, "pending": len(readers) - arrived}
    assert report["sent"] == arrived and report["left"] == len(readers) - arrived

    smtp_sink.latency = 0
    rerun = send_today(faulty, utcnow())  # the next run (here in-process) sends the rest
    assert (rerun.sent, rerun.left) == (len(readers) - arrived, 0)
    assert by_status(faulty) == {"sent": len(readers)}
    assert smtp_sink.accepted == Counter({address: 1 for address in readers})  # no duplicate at all
