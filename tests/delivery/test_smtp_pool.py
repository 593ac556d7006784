"""The SMTP pool against the real aiosmtpd sink: reuse with RSET, parallel connections, reconnects,
reply-code decisions, the circuit breaker, the per-run cap and the rate limit."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

import pytest

from service.delivery.rate_limit import RateLimiter
from service.delivery.smtp_mailer import SmtpMailer
from service.delivery.smtp_pool import Job, Result, SmtpPool, is_policy_refusal
from tests.support.smtp_sink import SmtpSink


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "digest@paperboy.example.org"
    msg["To"] = f"reader{n}@example.org"
    msg["Subject"] = f"digest {n}"
    msg.set_content(f"hello {n}\n")
    return msg


def jobs(count: int) -> list[Job]:
    return [Job(key=n, message=message(n), email=f"reader{n}@example.org") for n in range(count)]


def run(
    pool: SmtpPool, items: list[Job], limit: int = 0, ready: Callable[[], bool] | None = None
) -> tuple[object, dict[int, Result]]:
    results: dict[int, Result] = {}
    outcome = pool.run(items, lambda r: results.__setitem__(r.job.key, r), limit=limit, ready=ready)
    return outcome, results


def pool_for(sink: SmtpSink, size: int = 1, **kwargs: object) -> SmtpPool:
    return SmtpPool(lambda: SmtpMailer(sink.url, timeout=5), size=size, **kwargs)  # type: ignore[arg-type]


def test_one_connection_is_reused_without_rset_after_messages_that_went_through(
    smtp_sink: SmtpSink,
) -> None:
    with pool_for(smtp_sink) as pool:
        outcome, results = run(pool, jobs(5))
    assert {r.status for r in results.values()} == {"sent"} and outcome.sent == 5  # type: ignore[attr-defined]
    assert smtp_sink.connections == 1
    # The end of DATA resets the session: no RSET round trip between messages that went out.
    assert smtp_sink.commands["rset"] == 0 and smtp_sink.commands["mail"] == 5
    assert sorted(smtp_sink.accepted) == sorted(f"reader{n}@example.org" for n in range(5))


def test_a_refused_message_is_followed_by_rset_and_the_rest_go_out(smtp_sink: SmtpSink) -> None:
    """After a transaction the server did not complete, the next message starts with RSET."""
    smtp_sink.fail_next(1, "550 5.7.1 refused", stage="rcpt")
    with pool_for(smtp_sink) as pool:
        outcome, results = run(pool, jobs(4))
    statuses = sorted(r.status for r in results.values())
    assert statuses == ["failed", "sent", "sent", "sent"]
    assert smtp_sink.connections == 1
    # smtplib sends its own RSET after the refusal; the pool adds one before the next message.
    assert smtp_sink.commands["rset"] == 2 and smtp_sink.commands["mail"] == 4
    assert len(smtp_sink.accepted) == 3


def test_parallel_connections_share_the_batch(smtp_sink: SmtpSink) -> None:
    smtp_sink.latency = 0.05  # slow replies: every worker gets a share
    with pool_for(smtp_sink, size=4) as pool:
        outcome, results = run(pool, jobs(12))
    assert outcome.sent == 12 and len(results) == 12  # type: ignore[attr-defined]
    # Several workers took a share (how many of the four got one before the batch ran out
    # depends on the machine's load), and never more connections than the pool's size.
    assert 2 <= smtp_sink.connections <= 4
    assert (
        all(count == 1 for count in smtp_sink.accepted.values()) and len(smtp_sink.accepted) == 12
    )


def test_senders_are_added_only_while_the_next_message_is_ready(smtp_sink: SmtpSink) -> None:
    """With ``ready`` (the builder: a full queue of built messages), a slow relay still gets
    several connections, but senders waiting for messages to be made get no company: each extra
    thread would only wait too, and cost the worker its wake-ups (a relay that answers at once
    had kept all 16 of a worker's senders started, every batch)."""
    smtp_sink.latency = 0.05
    with pool_for(smtp_sink, size=4) as pool:
        outcome, _ = run(pool, jobs(8), ready=lambda: False)
    assert outcome.sent == 8 and smtp_sink.connections == 1  # type: ignore[attr-defined]
    with pool_for(smtp_sink, size=4) as pool:
        outcome, _ = run(pool, jobs(12), ready=lambda: True)
    assert outcome.sent == 12 and 2 <= smtp_sink.connections - 1 <= 4  # type: ignore[attr-defined]
    assert sum(smtp_sink.accepted.values()) == 8 + 12  # each message once


def test_dropped_and_421_connections_are_reopened(smtp_sink: SmtpSink) -> None:
    with pool_for(smtp_sink) as pool:
        run(pool, jobs(2))
        smtp_sink.fail_next(1, "421 4.7.0 closing, too many messages", stage="mail")
        first, _ = run(pool, jobs(1))  # 421 on the reused connection: reopen and send again
        smtp_sink.drop_connections()  # the server's idle timeout: RSET finds it dead
        second, _ = run(pool, jobs(2))
    assert first.sent == 1 and second.sent == 2  # type: ignore[attr-defined]
    assert smtp_sink.connections == 3  # the first, one after the 421, one after the drop
    assert sum(smtp_sink.accepted.values()) == 5


@pytest.mark.parametrize(
    ("reply", "stage", "status", "enhanced"),
    [
        ("451 4.3.0 try later", "data", "deferred", "4.3.0"),
        ("452 4.2.2 mailbox full", "rcpt", "deferred", "4.2.2"),
        ("550 5.1.1 no such user", "rcpt", "failed", "5.1.1"),
        ("554 5.7.26 DMARC policy", "mail", "failed", "5.7.26"),
    ],
)
def test_the_reply_code_decides(
    smtp_sink: SmtpSink, reply: str, stage: str, status: str, enhanced: str
) -> None:
    smtp_sink.fail_next(1, reply, stage=stage)
    with pool_for(smtp_sink) as pool:
        _, results = run(pool, jobs(2))
    first = results[0]
    assert first.status == status and first.error is not None
    assert (first.error.code, first.error.stage, first.error.status) == (
        int(reply[:3]),
        stage,
        enhanced,
    )
    assert is_policy_refusal(first.error) == enhanced.startswith("5.7.")
    assert results[1].status == "sent"  # the connection went on after the refusal


def test_a_burst_of_policy_refusals_opens_the_breaker(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(
        50, "550 5.7.26 unauthenticated email from example.org is not accepted", stage="mail"
    )
    with pool_for(smtp_sink, breaker_threshold=3) as pool:
        outcome, results = run(pool, jobs(20))
    assert outcome.paused and "5.7.26" in outcome.paused  # type: ignore[attr-defined]
    assert [r.status for r in results.values()] == ["failed"] * 3
    assert outcome.attempted == 3 and smtp_sink.commands["mail"] == 3  # type: ignore[attr-defined]


def test_policy_refusals_interrupted_by_a_success_do_not_open_it(smtp_sink: SmtpSink) -> None:
    with pool_for(smtp_sink, breaker_threshold=2) as pool:
        smtp_sink.fail_next(1, "550 5.7.1 rejected by policy", stage="rcpt")
        run(pool, jobs(1))
        outcome, results = run(pool, jobs(3))
    assert outcome.paused is None and outcome.sent == 3  # type: ignore[attr-defined]


def test_the_cap_stops_a_run_and_pulls_no_more(smtp_sink: SmtpSink) -> None:
    pulled: list[int] = []

    def lazily() -> object:
        for job in jobs(10):
            pulled.append(job.key)
            yield job

    with pool_for(smtp_sink, size=3) as pool:
        outcome = pool.run(lazily(), lambda r: None, limit=4)  # type: ignore[arg-type]
    assert (outcome.sent, outcome.capped) == (4, True)
    assert pulled == [0, 1, 2, 3] and sum(smtp_sink.accepted.values()) == 4


def test_the_rate_limit_spaces_messages_evenly(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    slept: list[float] = []
    monkeypatch.setattr(
        "service.delivery.rate_limit.time.sleep", lambda s: slept.append(round(s, 6))
    )
    limiter = RateLimiter(4, clock=lambda: now[0])
    for _ in range(4):
        limiter.wait()
    assert slept == [0.25, 0.5, 0.75]  # the first goes at once, then one every 1/4 s
    now[0] = 200.0  # idle for a while: no burst credit is saved up beyond the next slot
    limiter.wait()
    limiter.wait()
    assert slept[-1] == 0.25 and len(slept) == 4
    RateLimiter(0).wait()  # 0: no limit, returns at once
