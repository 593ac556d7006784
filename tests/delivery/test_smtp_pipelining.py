"""SMTP PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write where the relay offers it, with
the same outcomes as smtplib's one-command-at-a-time sendmail; and the sender's shortcuts (no
scan of a DataReady message, no address parser for a bare address) give what the long way gives.
"""

from __future__ import annotations

import random
import smtplib
import socketserver
import threading
from collections.abc import Iterator
from email.utils import getaddresses

import pytest

from service.delivery.smtp_mailer import SmtpMailer
from service.delivery.smtp_replies import dot_stuffed
from service.digest.envelope import addr_specs
from service.digest.message import DataReady, wire_bytes
from service.errors import PermanentSendError, TransientSendError
from service.records import RenderedDigest
from tests.delivery.test_mailer import RENDERED, message
from tests.delivery.test_smtp_replies import reference
from tests.support.smtp_sink import SmtpSink


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def sink(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    with SmtpSink(pipelining=request.param) as started:
        yield started


def test_the_envelope_goes_out_in_one_write_when_the_relay_offers_pipelining(
    sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bytes] = []
    real_send = smtplib.SMTP.send

    def spy(self: smtplib.SMTP, data: bytes | str) -> None:
        sent.append(data.encode("ascii") if isinstance(data, str) else data)
        real_send(self, data)

    with SmtpMailer(sink.url, timeout=5) as mailer:
        mailer.send(message(to="warmup@example.org"))  # connect and EHLO first
        monkeypatch.setattr(smtplib.SMTP, "send", spy)
        mailer.send(message(to="reader@example.org"))
    body = next(i for i, w in enumerate(sent) if w.endswith(b"\r\n.\r\n"))
    commands = sent[:body]  # what went out before the message itself
    if sink.pipelining:
        assert len(commands) == 1
        assert commands[0].startswith(b"MAIL FROM:<digest@paperboy.example.org>")
        assert b"\r\nRCPT TO:<reader@example.org>\r\nDATA\r\n" in commands[0]
    else:
        assert [c.split(b":")[0].split()[0].upper() for c in commands] == [
            b"MAIL",
            b"RCPT",
            b"DATA",
        ]
    assert [d.rcpt_tos for d in sink.deliveries] == [
        ("warmup@example.org",),
        ("reader@example.org",),
    ]
    assert sink.messages[1]["Subject"] == RENDERED.subject


@pytest.mark.parametrize(
    ("stage", "reply", "error", "code"),
    [
        ("mail", "550 5.7.1 sender not allowed", PermanentSendError, 550),
        ("mail", "451 4.3.0 try later", TransientSendError, 451),
        ("rcpt", "550 5.1.1 no such user", PermanentSendError, 550),
        ("rcpt", "452 4.2.2 mailbox full", TransientSendError, 452),
        ("data", "554 5.7.1 rejected as spam", PermanentSendError, 554),
    ],
)
def test_a_refusal_at_any_stage_is_that_error_and_the_connection_goes_on(
    sink: SmtpSink, stage: str, reply: str, error: type[Exception], code: int
) -> None:
    """The pipelined replies still owed are read before the error is raised, so the next
    message on the same connection goes out and nothing is mistaken for its replies."""
    sink.fail_next(1, reply, stage=stage)
    with SmtpMailer(sink.url, timeout=5) as mailer:
        with pytest.raises(error) as caught:
            mailer.send(message(to="refused@example.org"))
        assert caught.value.code == code  # type: ignore[attr-defined]
        mailer.send(message(to="next@example.org"))
        mailer.send(message(to="after@example.org"))
        assert mailer.connections == 1
    assert [d.rcpt_tos for d in sink.deliveries] == [("next@example.org",), ("after@example.org",)]


def test_421_to_mail_closes_and_the_message_goes_out_on_a_new_connection(sink: SmtpSink) -> None:
    with SmtpMailer(sink.url, timeout=5) as mailer:
        mailer.send(message(to="one@example.org"))
        sink.fail_next(1, "421 4.4.2 closing", stage="mail")
        mailer.send(message(to="two@example.org"))  # reopened once: nothing went out before
        assert mailer.connections == 2
    assert [d.rcpt_tos for d in sink.deliveries] == [("one@example.org",), ("two@example.org",)]


class _LenientServer(socketserver.ThreadingTCPServer):
    """A relay that refuses every recipient yet answers 354 to DATA (RFC 2920 says it should
    not): what it then reads as a message and the commands that follow."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _LenientHandler)
        self.messages: list[bytes] = []
        self.commands: list[bytes] = []


class _LenientHandler(socketserver.StreamRequestHandler):
    server: _LenientServer

    def handle(self) -> None:
        self.wfile.write(b"220 lenient\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            self.server.commands.append(verb)
            if verb == b"EHLO":
                self.wfile.write(b"250-lenient\r\n250 PIPELINING\r\n")
            elif verb == b"RCPT":
                self.wfile.write(b"550 5.1.1 no such user\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                body = b""
                while not body.endswith(b".\r\n"):
                    chunk = self.rfile.readline()
                    if not chunk:
                        return
                    body += chunk
                self.server.messages.append(body)
                self.wfile.write(b"554 5.5.1 no valid recipients\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def lenient() -> Iterator[_LenientServer]:
    server = _LenientServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_relay_taking_data_after_refusing_every_recipient_gets_an_empty_message(
    lenient: _LenientServer,
) -> None:
    host, port = lenient.server_address[:2]
    with SmtpMailer(f"smtp://{host}:{port}", timeout=5) as mailer:
        with pytest.raises(PermanentSendError) as caught:
            mailer.send(message(to="gone@example.org"))
        assert caught.value.code == 550 and caught.value.stage == "rcpt"
    assert lenient.messages == [b".\r\n"]  # the digest itself never went out
    assert lenient.commands[-2:] == [b"RSET", b"QUIT"]


# --------------------------------------------------------------------------- shortcuts


def test_the_digest_wire_bytes_are_data_ready_and_need_no_stuffing() -> None:
    wire = wire_bytes(message())
    assert type(wire) is DataReady
    assert reference(bytes(wire)) == wire
    assert dot_stuffed(wire) is wire


@pytest.mark.parametrize(
    "text",
    [".leading dot\n", "a\n.b\n..c\n", "ok\n"],
    ids=["first-line", "later-lines", "plain"],
)
def test_a_quoted_printable_part_is_scanned_as_before(text: str) -> None:
    """Quoted-printable lines can start with a dot: such a message is not DataReady unless
    the check finds none, and DATA carries it stuffed."""
    from service.digest.message import _text_part

    msg = message()
    msg.set_payload([_text_part(text, "plain", "quoted-printable")])
    wire = wire_bytes(msg)
    assert (type(wire) is DataReady) == (b"\n." not in wire)
    assert dot_stuffed(wire) == reference(bytes(wire))


def test_a_header_with_a_leading_dot_line_is_not_data_ready() -> None:
    msg = message(rendered=RenderedDigest("s", "<p>x</p>", "x\n"))
    msg.set_raw("X-Odd", "a\r\n.b")  # a raw value that folds into a line starting with "."
    wire = wire_bytes(msg)
    assert type(wire) is not DataReady
    assert dot_stuffed(wire) == reference(wire)


ADDRESS_VALUES = [
    "reader@example.org",
    "first.last+tag@sub.example.co.uk",
    "o'brien@example.ie",
    "x!#$%&*/=?^_`{|}~-@example.org",
    "a..b@example.org",
    ".a@example.org",
    "a.@example.org",
    "a@example..org",
    '"quoted local"@example.org',
    "Reader Name <reader@example.org>",
    "reader@example.org (comment)",
    "a@b, c@d",
    "@example.org",
    "reader@",
    "",
    "räder@example.org",
    "reader@[127.0.0.1]",
]


@pytest.mark.parametrize("value", ADDRESS_VALUES)
def test_addr_specs_reads_what_getaddresses_reads(value: str) -> None:
    assert addr_specs([value]) == [addr for _, addr in getaddresses([value])]


def test_addr_specs_agrees_with_getaddresses_on_random_addresses() -> None:
    rng = random.Random(5)
    alphabet = "abcXYZ019.!#$%&'*+/=?^_`{|}~-@ <>\"(),;:[]\\"
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14)))
        assert addr_specs([value]) == [addr for _, addr in getaddresses([value])], value
