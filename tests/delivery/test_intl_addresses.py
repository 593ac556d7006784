"""Addresses outside ASCII: an internationalised domain goes out in its IDNA form, a non-ASCII
local part with SMTPUTF8 and an RFC 6532 header when the relay offers it, and is deferred with a
clear error when it does not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.delivery.smtp_mailer import SmtpMailer
from service.digest.message import build_message, wire_bytes
from service.errors import TransientSendError
from service.ledger.ingest import ingest_file
from service.records import RenderedDigest
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope
from service.subscribers.validation import normalise_email
from tests.support.smtp_sink import SmtpSink, _Controller
from tests.support.web_helpers import outbox, subscribe

T0 = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)
JOSE = "josé@xn--bcher-kva.example"  # José@Bücher.example as stored


class Sink(SmtpSink):
    """The test SMTP server, offering SMTPUTF8 or not, recording each message's MAIL options."""

    def __init__(self, *, smtputf8: bool) -> None:
        super().__init__()
        self._controller = _Controller(self, enable_SMTPUTF8=smtputf8)
        self.mail_options: list[list[str]] = []

    def _deliver(self, session: Any, envelope: Any) -> None:
        self.mail_options.append(list(envelope.mail_options))
        super()._deliver(session, envelope)


@pytest.fixture
def utf8_sink() -> Any:
    with Sink(smtputf8=True) as sink:
        yield sink


@pytest.fixture
def ascii_sink() -> Any:
    with Sink(smtputf8=False) as sink:
        yield sink


def digest_to(address: str) -> Any:
    return build_message(
        RenderedDigest("Papers", "<p>Papers</p>", "Papers"), to=address, from_addr="Paperboy <digest@example.org>",
        base_url="https://paperboy.example.org", unsubscribe_url="/unsubscribe/x", list_id="digest.example.org",
    )  # fmt: skip


def test_addresses_are_stored_with_the_domain_in_idna() -> None:
    assert normalise_email("José@Bücher.example") == JOSE
    assert normalise_email("user@xn--bcher-kva.example") == normalise_email("User@bücher.example")
    assert normalise_email("ada@example.org") == "ada@example.org"


def test_the_to_header_is_utf8_never_an_encoded_word() -> None:
    wire = wire_bytes(digest_to("josé@bücher.example"))
    assert (
        f"To: {JOSE}\r\n".encode() in wire and b"=?utf-8?" not in wire.split(b"\r\n\r\n")[0].lower()
    )
    assert b"To: ada@xn--bcher-kva.example\r\n" in wire_bytes(digest_to("ada@bücher.example"))


def test_smtputf8_when_the_relay_offers_it_a_clear_deferral_when_not(
    utf8_sink: Sink, ascii_sink: Sink
) -> None:
    with SmtpMailer(utf8_sink.url) as mailer:
        mailer.send(digest_to(JOSE))
    [delivery] = utf8_sink.deliveries
    assert delivery.rcpt_tos == (JOSE,) and delivery.message["To"] == JOSE
    assert "SMTPUTF8" in utf8_sink.mail_options[0]

    with SmtpMailer(ascii_sink.url) as mailer:
        with pytest.raises(TransientSendError, match="not ASCII.*SMTPUTF8"):
            mailer.send(digest_to(JOSE))
        mailer.send(digest_to("ada@bücher.example"))  # an IDN domain alone needs nothing special
    [delivery] = ascii_sink.deliveries
    assert delivery.rcpt_tos == ("ada@xn--bcher-kva.example",)
    assert all("SMTPUTF8" not in options for options in ascii_sink.mail_options)


def test_a_subscriber_outside_ascii_is_confirmed_and_sent_to(
    runtime: Runtime, client: TestClient, utf8_sink: Sink, ascii_sink: Sink
) -> None:
    assert subscribe(client, "José@Bücher.example").status_code == 200
    [confirmation] = outbox(runtime)
    assert confirmation["To"] == JOSE
    raw = next(runtime.settings.outbox_dir.glob("*.eml")).read_bytes()
    assert f"To: {JOSE}\r\n".encode() in raw

    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=T0, embed=False)
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email=JOSE)
        assert subscriber is not None
        store.set_subscriber_status(session, subscriber_id=subscriber.id, status="active")
        store.update_subscriber(
            session, subscriber_id=subscriber.id, timezone="UTC", delivery_hour=8
        )
    send_at = dt.datetime(2025, 8, 20, 8, 5, tzinfo=dt.UTC)
    with SmtpMailer(ascii_sink.url) as mailer:
        report = send_due(runtime.pipeline, mailer=mailer, now=send_at)
    assert report.as_dict()["deferred"] == 1 and ascii_sink.deliveries == []
    with session_scope(runtime.factory) as session:
        [(_, _, status, _, error)] = store.recent_delivery_errors(session)
    assert status == "deferred" and "SMTPUTF8" in error
    with SmtpMailer(utf8_sink.url) as mailer:
        report = send_due(runtime.pipeline, mailer=mailer, now=send_at + dt.timedelta(hours=1))
    assert report.as_dict()["sent"] == 1
    [delivery] = utf8_sink.deliveries
    assert delivery.rcpt_tos == (JOSE,) and delivery.message["To"] == JOSE


def test_a_bounce_report_naming_the_unicode_domain_suppresses_the_stored_address(
    runtime: Runtime,
) -> None:
    from service.delivery.bounces import BounceEvent, apply_events

    with session_scope(runtime.factory) as session:
        store.add_subscriber(
            session, email=normalise_email("Ada@Bücher.example"), status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=5, topics=[("keyword", "x", 1.0)], now=T0,
        )  # fmt: skip
        event = BounceEvent(email="ada@BÜCHER.example", kind="bounce", hard=True, detail="5.1.1")
        assert apply_events(session, events=[event], soft_limit=3)["bounced"] == 1
        found = store.get_subscriber(session, email="ada@xn--bcher-kva.example")
        assert found is not None and found.status == "bounced"
