"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, an OS-chosen port, scripted failures.

Use the `smtp_sink` fixture (load this module with `pytest_plugins = ["tests.smtp_sink"]`):

    def test_x(smtp_sink):
        SmtpMailer(smtp_sink.url).send(msg)
        assert smtp_sink.messages[0]["Subject"] == ...
        smtp_sink.fail_next(1, "451 4.3.0 try later")            # at DATA
        smtp_sink.fail_next(1, "550 5.1.1 no such user", stage="rcpt")
        SmtpSink(strict=True)   # also answers 550 to DATA with a bare LF or CR; aiosmtpd
                                # itself answers 500 to a line over 1,000 bytes

Each delivered message is parsed with email.policy.default and gets X-MailFrom / X-RcptTo
headers with the envelope, as aiosmtpd's own Message handler does; `deliveries` holds the
envelope as fields too.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import deque
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

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        failure = self.sink._take_failure("mail")
        if failure:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        failure = self.sink._take_failure("rcpt")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        failure = self.sink._take_failure("data")
        if failure:
            return failure
        if self.sink.strict and BARE_LINE_END.search(envelope.original_content or b""):
            return "550 5.5.2 Error: bare <LF> or <CR> received"  # Postfix's wording
        self.sink._deliver(session, envelope)
        return "250 2.0.0 Message accepted for delivery"


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

    def __init__(self, *, auth: tuple[str, str] | None = None, strict: bool = False) -> None:
        self._lock = threading.Lock()
        self.strict = strict  # refuse DATA with a bare LF or CR (550), as strict servers do
        self._deliveries: list[Delivery] = []
        self._failures: deque[tuple[str, str]] = deque()
        self._sessions: list[SMTP] = []
        self.connections = 0
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
        """Forget deliveries, pending failures and the connection count."""
        with self._lock:
            self._deliveries.clear()
            self._failures.clear()
            self._sessions.clear()
            self.connections = 0

    # -- what tests script

    def fail_next(self, count: int, reply: str, *, stage: str = "data") -> None:
        """Answer the next `count` MAIL / RCPT / DATA commands (per `stage`) with `reply`.

        `reply` is a full SMTP reply line such as "451 4.3.0 try later".
        """
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        with self._lock:
            self._failures.extend([(stage, reply)] * count)

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

    def _take_failure(self, stage: str) -> str | None:
        with self._lock:
            if self._failures and self._failures[0][0] == stage:
                return self._failures.popleft()[1]
        return None

    def _deliver(self, session: Any, envelope: Any) -> None:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        message["X-MailFrom"] = envelope.mail_from
        message["X-RcptTo"] = ", ".join(envelope.rcpt_tos)
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        with self._lock:
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
