"""Building digest messages and delivering them to an outbox folder or a real SMTP server."""

from __future__ import annotations

import datetime as dt
import io
import re
import smtplib
import socket
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

import pytest

from service.delivery.outbox_mailer import OutboxMailer
from service.delivery.runtime import mailer_from_settings
from service.delivery.smtp_mailer import SmtpMailer
from service.digest.envelope import envelope
from service.digest.message import build_message, header_value, raw_values, wire_bytes
from service.errors import ConfigError, PermanentSendError, TransientSendError
from service.records import RenderedDigest
from tests.support.smtp_sink import SmtpSink

BASE = "https://paperboy.example.org"
FROM = "Paperboy <digest@paperboy.example.org>"
WHEN = dt.datetime(2025, 11, 21, 6, 30, tzinfo=dt.UTC)
RENDERED = RenderedDigest(
    subject="Paperboy — 2 papers for Fri 21 Nov",
    html='<!DOCTYPE html><html><body><p style="color:#111">Größe &amp; “quotes” '
    + "x" * 300
    + "</p></body></html>",
    text="Paperboy — Friday 21 November 2025\n2 papers on größe\n",
    preheader="First title",
)


def message(
    to: str = "reader@example.org", rendered: RenderedDigest = RENDERED, **overrides: object
) -> EmailMessage:
    kwargs: dict[str, object] = {
        "to": to,
        "from_addr": FROM,
        "base_url": BASE,
        "unsubscribe_url": f"{BASE}/unsubscribe/tok123",
        "list_id": "digest.paperboy.example.org",
        "reply_to": "help@paperboy.example.org",
        "date": WHEN,
    }
    kwargs.update(overrides)
    return build_message(rendered, **kwargs)  # type: ignore[arg-type]


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def lf(text: str) -> str:
    """Parsed wire-format bodies keep their CRLF line ends; compare them as LF."""
    return text.replace("\r\n", "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- build_message


def test_build_message_structure_and_headers() -> None:
    msg = reparse(message())
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert lf(parts[0].get_content()) == RENDERED.text
    assert lf(parts[1].get_content()).rstrip("\n") == RENDERED.html
    assert msg["Subject"] == RENDERED.subject
    assert msg["From"] == FROM
    assert msg["To"] == "reader@example.org"
    assert msg["Reply-To"] == "help@paperboy.example.org"
    assert msg["Date"] == format_datetime(WHEN)
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith(
        "@paperboy.example.org>"
    )
    assert msg["List-Id"] == "<digest.paperboy.example.org>"
    assert msg["List-Unsubscribe"] == f"<{BASE}/unsubscribe/tok123>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"


def test_build_message_wire_format_is_crlf_and_folded() -> None:
    raw = message().as_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body, "headers end with CRLF CRLF"
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare LF anywhere
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    raw.decode("ascii")  # 7-bit clean: non-ASCII is encoded


def test_message_ids_are_unique() -> None:
    assert message()["Message-ID"] != message()["Message-ID"]


def test_title_with_crlf_cannot_inject_headers() -> None:
    hostile = RenderedDigest(
        subject="Paperboy — 1 paper\r\nBcc: victim@evil.example\r\n\r\n<html>",
        html="<p>x</p>",
        text="x\n",
    )
    msg = message(to="reader@example.org\r\nCc: also@evil.example", rendered=hostile)
    raw = msg.as_bytes()
    assert b"\r\nBcc:" not in raw and b"\r\nCc:" not in raw
    parsed = reparse(msg)
    assert parsed["Bcc"] is None and parsed["Cc"] is None
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    assert parsed["Subject"].startswith("Paperboy — 1 paper Bcc: victim@evil.example")
    assert header_value("a\x00b\x1b[31m\u2028c\td") == "a b [31m c d"


def test_relative_unsubscribe_url_is_resolved_and_unsafe_one_rejected() -> None:
    assert (
        message(unsubscribe_url="/unsubscribe/t")["List-Unsubscribe"] == f"<{BASE}/unsubscribe/t>"
    )
    with pytest.raises(ValueError, match="unsubscribe_url"):
        message(unsubscribe_url="javascript:alert(1)")


def test_naive_date_is_utc_and_default_is_now() -> None:
    assert message(date=WHEN.replace(tzinfo=None))["Date"] == format_datetime(WHEN)
    assert message(date=None)["Date"].endswith("+0000")


def test_message_id_falls_back_to_the_site_host() -> None:
    msg = message(from_addr="paperboy")
    assert msg["Message-ID"].endswith("@paperboy.example.org>")


# --------------------------------------------------------------------------- OutboxMailer


def test_outbox_writes_a_parseable_eml(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox" / "nested"
    msg = message()
    with OutboxMailer(outbox) as mailer:
        mailer.send(msg)
    files = list(outbox.iterdir())
    assert len(files) == 1, files  # and no temp file left behind
    path = files[0]
    assert path == mailer.last_path
    assert path.name.startswith("20251121T063000Z-") and path.suffix == ".eml"
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert parsed["Subject"] == RENDERED.subject
    assert parsed["Message-ID"] == msg["Message-ID"]
    assert lf(parsed.get_body(("plain",)).get_content()) == RENDERED.text
    assert path.read_bytes().count(b"\r\n") > 10


def test_outbox_write_failure_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(TransientSendError, match="reader@example.org"):
        OutboxMailer(blocker).send(message())


# --------------------------------------------------------------------------- SmtpMailer


def test_smtp_delivers_to_the_envelope_recipient(smtp_sink: SmtpSink) -> None:
    msg = message(to="Reader Name <reader@example.org>")
    with SmtpMailer(smtp_sink.url, timeout=5) as mailer:
        mailer.send(msg)
    [delivery] = smtp_sink.deliveries
    assert delivery.rcpt_tos == ("reader@example.org",)
    assert delivery.mail_from == "digest@paperboy.example.org"
    got = delivery.message
    assert got["Subject"] == RENDERED.subject
    assert got["X-RcptTo"] == "reader@example.org"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert lf(got.get_body(("html",)).get_content()).rstrip("\n") == RENDERED.html
    assert lf(got.get_body(("plain",)).get_content()) == RENDERED.text


def test_smtp_reuses_one_connection(smtp_sink: SmtpSink) -> None:
    with SmtpMailer(smtp_sink.url, timeout=5) as mailer:
        for i in range(3):
            mailer.send(message(to=f"reader{i}@example.org"))
        assert mailer.connections == 1
    assert smtp_sink.connections == 1
    assert [d.rcpt_tos for d in smtp_sink.deliveries] == [
        ("reader0@example.org",),
        ("reader1@example.org",),
        ("reader2@example.org",),
    ]


def test_smtp_4xx_is_transient_and_the_connection_survives(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1, "451 4.3.0 try later")
    with SmtpMailer(smtp_sink.url, timeout=5) as mailer:
        with pytest.raises(TransientSendError) as caught:
            mailer.send(message())
        assert caught.value.code == 451
        assert "reader@example.org" in str(caught.value) and "try later" in str(caught.value)
        mailer.send(message())  # same connection, now accepted
        assert mailer.connections == 1
    assert len(smtp_sink.messages) == 1


def test_smtp_5xx_recipient_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1, "550 5.1.1 no such user", stage="rcpt")
    with SmtpMailer(smtp_sink.url, timeout=5) as mailer:
        with pytest.raises(PermanentSendError) as caught:
            mailer.send(message(to="gone@example.org"))
    assert caught.value.code == 550
    assert "gone@example.org" in str(caught.value) and "no such user" in str(caught.value)
    assert smtp_sink.messages == []


def test_smtp_4xx_recipient_is_transient(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1, "452 4.2.2 mailbox full", stage="rcpt")
    with (
        SmtpMailer(smtp_sink.url, timeout=5) as mailer,
        pytest.raises(TransientSendError) as caught,
    ):
        mailer.send(message())
    assert caught.value.code == 452


def test_smtp_5xx_at_data_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1, "554 5.7.1 message rejected as spam")
    with (
        SmtpMailer(smtp_sink.url, timeout=5) as mailer,
        pytest.raises(PermanentSendError) as caught,
    ):
        mailer.send(message())
    assert caught.value.code == 554
    assert "spam" in str(caught.value)


def test_smtp_reconnects_once_after_the_server_dropped_the_connection(smtp_sink: SmtpSink) -> None:
    with SmtpMailer(smtp_sink.url, timeout=5) as mailer:
        mailer.send(message(to="one@example.org"))
        smtp_sink.drop_connections()
        mailer.send(message(to="two@example.org"))
        assert mailer.connections == 2
    assert [d.rcpt_tos for d in smtp_sink.deliveries] == [
        ("one@example.org",),
        ("two@example.org",),
    ]


def test_smtp_reconnects_after_421_on_a_reused_connection(smtp_sink: SmtpSink) -> None:
    with SmtpMailer(smtp_sink.url, timeout=5) as mailer:
        mailer.send(message())
        smtp_sink.fail_next(1, "421 4.4.2 idle too long, closing", stage="mail")
        mailer.send(message())
        assert mailer.connections == 2
    assert len(smtp_sink.messages) == 2


def test_smtp_421_on_a_fresh_connection_is_transient(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1, "421 4.3.2 shutting down", stage="mail")
    with (
        SmtpMailer(smtp_sink.url, timeout=5) as mailer,
        pytest.raises(TransientSendError) as caught,
    ):
        mailer.send(message())
    assert caught.value.code == 421


def test_smtp_nothing_listening_is_transient() -> None:
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=5)
    with pytest.raises(TransientSendError) as caught:
        mailer.send(message())
    assert caught.value.code is None
    assert "reader@example.org" in str(caught.value)
    mailer.close()


def test_smtp_starttls_required_but_not_offered_is_transient(smtp_sink: SmtpSink) -> None:
    with SmtpMailer(f"{smtp_sink.url}?starttls=required", timeout=5) as mailer:
        with pytest.raises(TransientSendError, match="STARTTLS"):
            mailer.send(message())
    assert smtp_sink.messages == []


def test_smtp_logs_in_with_url_decoded_credentials() -> None:
    with SmtpSink(auth=("us@er", "p:ss w/rd")) as sink:
        url = f"smtp://us%40er:p%3Ass%20w%2Frd@127.0.0.1:{sink.port}"
        with SmtpMailer(url, timeout=5) as mailer:
            mailer.send(message())
        assert [d.login for d in sink.deliveries] == ["us@er"]

        bad = f"smtp://us%40er:wrong@127.0.0.1:{sink.port}"
        with SmtpMailer(bad, timeout=5) as mailer, pytest.raises(TransientSendError) as caught:
            mailer.send(message())
        assert caught.value.code == 535
        assert "wrong" not in str(caught.value) and "wrong" not in repr(mailer)


@pytest.mark.parametrize(
    ("url", "host", "port", "implicit_tls", "starttls"),
    [
        ("smtp://mail.example.org", "mail.example.org", 25, False, "auto"),
        (
            "smtp://u:p@mail.example.org:587?starttls=required",
            "mail.example.org",
            587,
            False,
            "required",
        ),
        ("smtps://mail.example.org", "mail.example.org", 465, True, "auto"),
        ("SMTP://[::1]:2525", "::1", 2525, False, "auto"),
    ],
)
def test_smtp_url_parsing(
    url: str, host: str, port: int, implicit_tls: bool, starttls: str
) -> None:
    mailer = SmtpMailer(url)
    assert (mailer.host, mailer.port, mailer.implicit_tls, mailer.starttls) == (
        host,
        port,
        implicit_tls,
        starttls,
    )


@pytest.mark.parametrize(
    "url", ["http://mail.example.org", "smtp://", "smtp://h:notaport", "smtp://h?starttls=maybe"]
)
def test_smtp_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        SmtpMailer(url)


def test_mailer_from_settings(tmp_path: Path) -> None:
    assert isinstance(mailer_from_settings(None, tmp_path), OutboxMailer)
    assert isinstance(mailer_from_settings("  ", tmp_path), OutboxMailer)
    smtp = mailer_from_settings("smtp://127.0.0.1:2525", tmp_path)
    assert isinstance(smtp, SmtpMailer) and smtp.port == 2525


# --------------------------------------------------------------------------- wire format


LONG_UNSUBSCRIBE = (
    f"{BASE}/unsubscribe/eyJzIjoxMjM0NX0.aSF2Ag.Hk3vQfA9cZbW1u8yJr2mN5pLx0sT4eIoD7gKqUw"
)
VARIED = [
    {},
    {
        "from_addr": "Pâperboy Ünïcode <digest@paperboy.example.org>",
        "to": "Jane Q. Doe <jane@example.org>",
    },
    {"unsubscribe_url": LONG_UNSUBSCRIBE, "unsubscribe_mailto": "unsubscribe@paperboy.example.org"},
    {
        "rendered": RenderedDigest(
            "Paperboy — 1 paper 🚀", "<p>a\r\nb\rc 👍</p>\n", "a\r\nb\rc\n \n"
        )
    },
    {"reply_to": None, "rendered": RenderedDigest("x" * 200, "", "")},
]


@pytest.mark.parametrize("overrides", VARIED)
def test_wire_bytes_are_what_the_stdlib_generator_writes(overrides: dict[str, object]) -> None:
    msg = message(**overrides)
    raw = wire_bytes(msg)
    assert raw == msg.as_bytes()
    out = io.BytesIO()
    BytesGenerator(out).flatten(msg, linesep="\r\n")  # as smtplib.send_message does
    assert raw == out.getvalue()
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    raw.decode("ascii")


def test_wire_bytes_of_other_messages_fall_back_to_the_generator() -> None:
    msg = EmailMessage()  # policy.default: LF line ends; the wire form is CRLF anyway
    msg["Subject"] = "Größe"
    msg.set_content("line one\nline two\n")
    msg.add_attachment(b"\x00\x01binary", maintype="application", subtype="octet-stream")
    assert wire_bytes(msg) == msg.as_bytes(policy=policy.SMTP)
    built = message()
    built.replace_header("Subject", "changed after building")
    assert wire_bytes(built) == built.as_bytes()
    assert reparse(built)["Subject"] == "changed after building"


def test_parts_round_trip_a_real_digest() -> None:
    from service.digest.render import Renderer
    from service.resources import templates_dir
    from tests.digest.test_render import digest, paper

    rendered = Renderer(templates_dir()).render(digest([paper(i) for i in range(1, 21)]))
    parsed = BytesParser(policy=policy.default).parsebytes(wire_bytes(message(rendered=rendered)))
    assert lf(parsed.get_body(("html",)).get_content()) == rendered.html
    assert lf(parsed.get_body(("plain",)).get_content()) == rendered.text
    assert parsed["Subject"] == "20 papers: Scaling laws for reward models, part 1"
    [plain, html] = parsed.iter_parts()
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert html["Content-Transfer-Encoding"] == "base64"


def test_a_long_unsubscribe_url_stays_a_url() -> None:
    # The stock policy would fold an unbreakable 90-character URL into RFC 2047 encoded words.
    msg = message(unsubscribe_url=LONG_UNSUBSCRIBE)
    raw = wire_bytes(msg)
    assert f"\r\nList-Unsubscribe: <{LONG_UNSUBSCRIBE}>\r\n".encode() in raw
    assert reparse(msg)["List-Unsubscribe"] == f"<{LONG_UNSUBSCRIBE}>"
    head = raw.partition(b"\r\n\r\n")[0]
    assert b"=?" not in head.replace(b"=?utf-8?b?4oCU?=", b"")  # only the em dash is encoded
    assert all(len(line) <= 78 for line in head.split(b"\r\n") if b"://" not in line)


def test_list_unsubscribe_with_a_mailto() -> None:
    msg = message(unsubscribe_mailto="unsubscribe@paperboy.example.org")
    assert reparse(msg)["List-Unsubscribe"] == (
        f"<{BASE}/unsubscribe/tok123>, <mailto:unsubscribe@paperboy.example.org?subject=unsubscribe>"
    )
    assert message(unsubscribe_mailto="mailto:u@x.org")["List-Unsubscribe"].endswith(
        "<mailto:u@x.org?subject=unsubscribe>"
    )
    with pytest.raises(ValueError, match="unsubscribe_mailto"):
        message(unsubscribe_mailto="not an address>, <https://evil.example")


def test_message_id_is_on_the_senders_domain() -> None:
    msg = message(
        from_addr="Paperboy <news@mail.example.net>", base_url="https://paperboy.example.org"
    )
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.example\.net>", msg["Message-ID"])
    assert message(from_addr="P <p@bücher.example>")["Message-ID"].endswith(
        "@xn--bcher-kva.example>"
    )


def test_headers_round_trip_through_the_registry() -> None:
    overrides = VARIED[1]
    parsed = reparse(message(**overrides))  # type: ignore[arg-type]
    assert parsed["From"] == "Pâperboy Ünïcode <digest@paperboy.example.org>"
    assert parsed["To"] == '"Jane Q. Doe" <jane@example.org>'
    assert [a.addr_spec for a in parsed["To"].addresses] == ["jane@example.org"]
    assert parsed["Date"] == format_datetime(WHEN)


@pytest.mark.parametrize("overrides", VARIED)
def test_raw_values_read_what_the_header_parser_reads(overrides: dict[str, object]) -> None:
    """The envelope and the logged Message-ID come from the stored header values, unparsed:
    the same addresses and id as the registry's parser gives, folded values included."""
    from email.utils import getaddresses

    long_name = "Dr. Jane Quentin Doe-Smithson of the Very Long Department Name"
    for msg in (
        message(**overrides),
        message(**{**overrides, "to": f'"{long_name}" <jd@example.org>'}),
    ):  # type: ignore[arg-type]
        parsed = reparse(msg)
        assert [a for _, a in getaddresses(raw_values(msg, "To"))] == [
            a.addr_spec for a in parsed["To"].addresses
        ]
        assert raw_values(msg, "Message-ID") == [str(parsed["Message-ID"])]
        if envelope(msg) is not None:
            assert envelope(msg) == (
                parsed["From"].addresses[0].addr_spec,
                [a.addr_spec for a in parsed["To"].addresses],
            )
    assert raw_values(message(), "Cc") == []


def test_strict_smtp_server_accepts_our_messages_and_refuses_bare_line_feeds() -> None:
    with SmtpSink(strict=True) as sink:
        with SmtpMailer(sink.url, timeout=5) as mailer:
            mailer.send(message(unsubscribe_url=LONG_UNSUBSCRIBE))
            mailer.send(message(rendered=RenderedDigest("s", "<p>a\nb\rc</p>", "a\nb\rc\n")))
        assert len(sink.messages) == 2
        assert sink.messages[0]["List-Unsubscribe"] == f"<{LONG_UNSUBSCRIBE}>"
        # The control: the same server refuses a message with a bare LF.
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as caught:
                smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\nbare\nLF\r\n")
        assert caught.value.smtp_code == 550
        assert len(sink.messages) == 2


def test_smtp_envelope_falls_back_to_send_message_when_needed(smtp_sink: SmtpSink) -> None:
    assert envelope(message(to="Jane <jane@example.org>")) == (
        "digest@paperboy.example.org",
        ["jane@example.org"],
    )
    bcc = message()
    bcc["Bcc"] = "hidden@example.org"
    assert envelope(bcc) is None
    with SmtpMailer(smtp_sink.url, timeout=5) as mailer:
        mailer.send(bcc)
    [delivery] = smtp_sink.deliveries
    assert set(delivery.rcpt_tos) == {"reader@example.org", "hidden@example.org"}
    assert delivery.message["Bcc"] is None  # send_message strips it
