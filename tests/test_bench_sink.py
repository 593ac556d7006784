"""bench/lean_sink.py, the benchmarks' counting SMTP sink: what smtplib and Paperboy's pool send
it is counted once per recipient, a bare line feed is refused, and replies wait for `latency`."""

from __future__ import annotations

import smtplib
import sys
from collections.abc import Iterator

import pytest

from service.delivery.smtp_mailer import SmtpMailer
from service.delivery.smtp_pool import Job, SmtpPool
from tests.delivery.test_mailer import message
from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "bench"))
from sink_process import Sink  # noqa: E402


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    sink = Sink(0.0, lean=True)
    try:
        yield sink
    finally:
        sink.stop()


def test_pool_messages_are_counted_once_per_recipient(sink: Sink) -> None:
    sink.ask("clear")
    pool = SmtpPool(lambda: SmtpMailer(sink.url, timeout=5), size=3)
    jobs = [Job(key=n, message=message(to=f"r{n}@example.org")) for n in range(12)]
    results: list[str] = []
    with pool:
        outcome = pool.run(jobs, lambda r: results.append(r.status))
    assert results == ["sent"] * 12 and outcome.sent == 12
    assert sink.ask("count") == (12, 12)


def test_bare_line_feed_is_refused_and_not_counted(sink: Sink) -> None:
    sink.ask("clear")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPDataError):
            smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: x\n\nbare\n")
        smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\nok\r\n")
        assert smtp.rcpt("c@example.org")[0] == 503  # no MAIL first
    assert sink.ask("count") == (1, 1)
