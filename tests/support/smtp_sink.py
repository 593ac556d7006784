"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, an OS-chosen port, scripted failures.

Use the `smtp_sink` fixture (load this module with `pytest_plugins = ["tests.support.smtp_sink"]`):

    def test_x(smtp_sink):
        SmtpMailer(smtp_sink.url).send(msg)
        assert smtp_sink.messages[0]["Subject"] == ...
        smtp_sink.fail_next(1, "451 4.3.0 try later")            # at DATA
        smtp_sink.fail_next(1, "550 5.1.1 no such user", stage="rcpt")
        SmtpSink(strict=True)   # also answers 550 to DATA with a bare LF or CR; aiosmtpd
                                # itself answers 500 to a line over 1,000 bytes
        smtp_sink.drop_next(1, stage="data")      # close the connection instead of replying
        smtp_sink.stall_next(1, 5.0, stage="mail")  # say nothing for 5 s, then close
        smtp_sink.latency = 0.01                  # every MAIL/RCPT/DATA/RSET reply 10 ms late
        SmtpSink(record=False)  # count per recipient only, parse nothing (benchmarks)
        SmtpSink(pipelining=False)  # not offering PIPELINING: one command per round trip

Each delivered message is parsed with email.policy.default and gets X-MailFrom / X-RcptTo
headers with the envelope, as aiosmtpd's own Message handler does; `deliveries` holds the
envelope as fields too.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Self

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

STAGES = ("mail", "rcpt", "data")
# SMTP ends lines with CRLF only; strict servers (Postfix's smtpd_forbid_bare_newline, Exchange
# Online) refuse a message with a lone LF or CR, which some relays would otherwise rewrite.
BARE_LINE_END = re.compile(rb"(?<!\r)\n|\r(?!\n)")
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted message: envelope sender, envelope recipients, parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None = None  # the AUTH user, when the client logged in


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def _failure(self, server: SMTP, stage: str) -> str | None:
        """The scripted failure for this command (after the reply latency), if any."""
        if self.sink.latency:
            await asyncio.sleep(self.sink.latency)
        failure = self.sink._take_failure(stage)
        if failure is None:
            return None
        kind, value = failure
        if kind == "stall":
            await asyncio.sleep(float(value))
        if kind in ("drop", "stall"):
            # Nothing is delivered and no reply goes out: the client sees the connection close.
            if server.transport is not None:
                server.transport.close()
            return "421 4.4.2 connection dropped"
        return value

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if self.sink.pipelining:  # aiosmtpd reads commands a line at a time: it can
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.sink._count("mail")
        failure = await self._failure(server, "mail")
        if failure:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.sink._count("rcpt")
        failure = await self._failure(server, "rcpt")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.sink._count("data")
        failure = await self._failure(server, "data")
        if failure:
            return failure
        if self.sink.strict and BARE_LINE_END.search(envelope.original_content or b""):
            return "550 5.5.2 Error: bare <LF> or <CR> received"  # Postfix's wording
        self.sink._deliver(session, envelope)
        return "250 2.0.0 Message accepted for delivery"

    async def handle_RSET(self, server, session, envelope):  # noqa: N802
        self.sink._count("rset")
        if self.sink.latency:
            await asyncio.sleep(self.sink.latency)
        return "250 OK"


class _Controller(Controller):
    def __init__(self, sink: SmtpSink, **smtp_kwargs: Any) -> None:
        super().__init__(_Handler(sink), hostname="127.0.0.1", port=0, **smtp_kwargs)
        self.sink = sink

    def factory(self) -> SMTP:
        # Called once per incoming connection: count them and remember the sessions.
        smtpd = super().factory()
        self.sink._opened(smtpd)
        return smtpd

    def _trigger_server(self) -> None:
        # port=0 let the OS choose; learn the real port before aiosmtpd's readiness probe.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """An in-process SMTP server recording what it accepts; see the module docstring."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        strict: bool = False,
        latency: float = 0.0,
        record: bool = True,
        pipelining: bool = True,
    ) -> None:
        self._lock = threading.Lock()
        self.pipelining = pipelining  # offer PIPELINING (RFC 2920), as real relays do
        self.strict = strict  # refuse DATA with a bare LF or CR (550), as strict servers do
        self.latency = latency  # seconds added before every MAIL, RCPT, DATA and RSET reply
        self.record = record  # keep and parse each message (False: count them only)
        self._deliveries: list[Delivery] = []
        self._failures: deque[tuple[str, str, str]] = deque()
        self._sessions: list[SMTP] = []
        self.connections = 0
        self.commands: Counter[str] = Counter()  # mail, rcpt, data, rset commands received
        self.accepted: Counter[str] = Counter()  # messages accepted per envelope recipient
        self.message_ids: dict[str, set[str]] = {}  # distinct Message-IDs per envelope recipient
        self.auth = auth
        kwargs: dict[str, Any] = {}
        if auth is not None:
            # Offer AUTH on a plain connection (tests have no TLS) without demanding it.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = _Controller(self, **kwargs)

    # -- lifecycle

    def start(self) -> Self:
        self._controller.start()
        self.clear()  # forget aiosmtpd's readiness-probe connection
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what tests read

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    @property
    def messages(self) -> list[EmailMessage]:
        return [delivery.message for delivery in self.deliveries]

    def clear(self) -> None:
        """Forget deliveries, pending failures, counters and the connection count."""
        with self._lock:
            self.commands.clear()
            self.accepted.clear()
            self._deliveries.clear()
            self._failures.clear()
            self._sessions.clear()
            self.connections = 0

    # -- what tests script

    def fail_next(self, count: int, reply: str, *, stage: str = "data") -> None:
        """Answer the next `count` MAIL / RCPT / DATA commands (per `stage`) with `reply`.

        `reply` is a full SMTP reply line such as "451 4.3.0 try later".
        """
        self._script(count, stage, "reply", reply)

    def drop_next(self, count: int, *, stage: str = "data") -> None:
        """At the next `count` MAIL / RCPT / DATA commands, close the connection without a reply.

        At "data" the whole message has arrived and is not delivered: a drop mid-DATA as the
        client sees it (no reply to the final dot).
        """
        self._script(count, stage, "drop", "")

    def stall_next(self, count: int, seconds: float, *, stage: str = "data") -> None:
        """At the next `count` commands of `stage`, say nothing for `seconds`, then close."""
        self._script(count, stage, "stall", str(seconds))

    def _script(self, count: int, stage: str, kind: str, value: str) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        with self._lock:
            self._failures.extend([(stage, kind, value)] * count)

    def drop_connections(self) -> None:
        """Close every open client connection from the server side, as an idle timeout would."""

        async def close_all() -> None:
            for smtpd in sessions:
                if smtpd.transport is not None:
                    smtpd.transport.close()
            await asyncio.sleep(0.05)  # let the FINs go out before the test sends again

        with self._lock:
            sessions = list(self._sessions)
        asyncio.run_coroutine_threadsafe(close_all(), self._controller.loop).result(timeout=5)

    # -- called from the server thread

    def _opened(self, smtpd: SMTP) -> None:
        with self._lock:
            self.connections += 1
            self._sessions.append(smtpd)

    def _take_failure(self, stage: str) -> tuple[str, str] | None:
        with self._lock:
            if self._failures and self._failures[0][0] == stage:
                _, kind, value = self._failures.popleft()
                return kind, value
        return None

    def _count(self, command: str) -> None:
        with self._lock:
            self.commands[command] += 1

    def _deliver(self, session: Any, envelope: Any) -> None:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        found = MESSAGE_ID.search(content[: content.find(b"\r\n\r\n") % 65536])
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.message_ids.setdefault(rcpt, set()).add(
                    found.group(1).decode() if found else ""
                )
        if not self.record:
            with self._lock:
                self.accepted.update(envelope.rcpt_tos)
            return
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        message["X-MailFrom"] = envelope.mail_from
        message["X-RcptTo"] = ", ".join(envelope.rcpt_tos)
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        with self._lock:
            self.accepted.update(envelope.rcpt_tos)
            self._deliveries.append(
                Delivery(envelope.mail_from, tuple(envelope.rcpt_tos), message, login)
            )

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            self.auth is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self.auth
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A started SmtpSink, stopped after the test."""
    with SmtpSink() as sink:
        yield sink
