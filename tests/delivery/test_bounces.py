"""Bounces and complaints: SMTP refusals, DSN and ARF reports, `paperboy bounces import`, the webhook."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from service.cli.main import cli
from service.delivery.bounces import classify_refusal, parse_report, read_messages
from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.delivery.smtp_mailer import SmtpMailer
from service.errors import PermanentSendError, TransientSendError
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope
from service.web.app import create_app
from tests.support.paths import DATA
from tests.support.smtp_sink import SmtpSink

BOUNCES = DATA / "bounces"
T0 = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)
NOON = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)


def add(runtime: Runtime, *emails: str) -> None:
    with session_scope(runtime.factory) as session:
        for address in emails:
            store.add_subscriber(
                session, email=address, status="active", timezone="UTC", delivery_hour=8, cadence="daily",
                max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=T0,
            )  # fmt: skip


def statuses(runtime: Runtime) -> dict[str, str]:
    with session_scope(runtime.factory) as session:
        return {s.email: s.status for s in store.list_subscribers(session)}


def error(code: int, stage: str, status: str | None) -> PermanentSendError | TransientSendError:
    cls = PermanentSendError if code >= 500 else TransientSendError
    return cls("x", code=code, stage=stage, status=status)


@pytest.mark.parametrize(
    ("code", "stage", "status", "kind"),
    [
        (550, "rcpt", "5.1.1", "hard"),  # no such user
        (550, "data", "5.1.1", "hard"),
        (554, "rcpt", "5.2.1", "hard"),  # mailbox disabled
        (550, "rcpt", None, "hard"),  # a bare 550 to RCPT: mailbox unavailable
        (552, "rcpt", "5.2.2", "soft"),  # mailbox full
        (554, "data", "5.6.0", "soft"),  # content refused
        (554, "data", None, "soft"),
        (550, "rcpt", "5.7.1", None),  # policy: says nothing about the address
        (550, "mail", "5.7.26", None),
        (550, "mail", "5.1.8", None),  # our sender refused, not the recipient
        (535, "connect", "5.7.8", None),
        (451, "rcpt", "4.3.0", None),  # transient: retried, not a bounce
    ],
)
def test_what_a_refusal_says_about_the_address(
    code: int, stage: str, status: str | None, kind: str | None
) -> None:
    assert classify_refusal(error(code, stage, status)) == kind


def test_a_dsn_reports_failed_recipients_hard_or_soft_and_ignores_delays() -> None:
    message = message_from_bytes(
        (BOUNCES / "dsn_hard_soft_delayed.eml").read_bytes(), policy=policy.default
    )
    events = parse_report(message)
    assert [(e.email, e.kind, e.hard) for e in events] == [
        ("gone@example.org", "bounce", True),
        ("full@example.org", "bounce", False),
    ]
    assert "5.1.1" in events[0].detail and "User unknown" in events[0].detail


def test_an_arf_report_is_a_complaint_about_the_original_recipient() -> None:
    message = message_from_bytes(
        (BOUNCES / "arf_complaint.eml").read_bytes(), policy=policy.default
    )
    [event] = parse_report(message)
    assert (event.email, event.kind, event.hard, event.detail) == (
        "angry@example.com",
        "complaint",
        False,
        "feedback report: abuse",
    )


def test_an_mbox_yields_each_message_and_a_plain_reply_is_no_report() -> None:
    messages = list(read_messages(BOUNCES / "mixed.mbox"))
    assert [name.rsplit("#", 1)[1] for name, _ in messages] == ["1", "2"]
    assert [len(parse_report(m)) for _, m in messages] == [2, 0]


def invoke(runtime: Runtime, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli,
        list(args),
        env={
            "PAPERBOY_DATABASE_URL": runtime.settings.database_url,
            "PAPERBOY_SOFT_BOUNCE_LIMIT": "2",
        },
    )
    return result.exit_code, result.stdout, result.stderr


def test_bounces_import_suppresses_hard_bounces_and_complaints_and_counts_soft_ones(
    runtime: Runtime,
) -> None:
    add(
        runtime,
        "gone@example.org",
        "full@example.org",
        "angry@example.com",
        "second@example.org",
        "ok@example.org",
    )
    code, out, err = invoke(runtime, "bounces", "import", str(BOUNCES), "--json")
    assert code == 0, err
    report = json.loads(out)
    # gone and second hard-bounced; angry complained; full soft-bounced once; other@ is no subscriber.
    assert (
        report["messages"],
        report["bounced"],
        report["complained"],
        report["soft"],
        report["unchanged"],
    ) == (4, 2, 1, 1, 1)
    assert [Path(n).name for n in report["not_reports"]] == ["mixed.mbox#2"]
    assert statuses(runtime) == {
        "gone@example.org": "bounced", "full@example.org": "active", "angry@example.com": "complained",
        "second@example.org": "bounced", "ok@example.org": "active",
    }  # fmt: skip
    # Importing again changes nothing but the soft count, which now reaches the limit (2).
    code, out, _ = invoke(
        runtime, "bounces", "import", str(BOUNCES / "dsn_hard_soft_delayed.eml"), "--json"
    )
    assert json.loads(out)["bounced"] == 1 and statuses(runtime)["full@example.org"] == "bounced"
    with session_scope(runtime.factory) as session:
        full = store.get_subscriber(session, email="full@example.org")
        assert full is not None and "2 soft bounces in a row" in (full.suppressed_reason or "")


def test_bounces_import_names_a_missing_file(runtime: Runtime, tmp_path: Path) -> None:
    code, _, err = invoke(runtime, "bounces", "import", str(tmp_path / "nope.eml"))
    assert code == 2 and "nope.eml: no such file or folder" in err


def webhook_client(runtime: Runtime, secret: str | None = "s3cret-webhook-key") -> TestClient:
    settings = runtime.settings.model_copy(
        update={"bounce_webhook_secret": secret, "soft_bounce_limit": 2}
    )
    return TestClient(create_app(Runtime(settings, _engine=runtime.engine)))


def test_webhook_requires_the_secret_and_answers_alike_for_strangers(runtime: Runtime) -> None:
    add(runtime, "ada@example.org", "bob@example.org", "cy@example.org")
    client = webhook_client(runtime)
    body = json.dumps([{"email": "ada@example.org", "type": "bounce", "hard": True}])
    assert client.post("/webhooks/bounces", content=body).status_code == 401
    wrong = client.post("/webhooks/bounces", content=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and statuses(runtime)["ada@example.org"] == "active"

    ok = client.post(
        "/webhooks/bounces", content=body, headers={"Authorization": "Bearer s3cret-webhook-key"}
    )
    stranger_body = json.dumps([{"email": "nobody@example.org", "type": "bounce", "hard": True}])
    stranger = client.post(
        "/webhooks/bounces",
        content=stranger_body,
        headers={"Authorization": "Bearer s3cret-webhook-key"},
    )
    assert (
        (ok.status_code, ok.json())
        == (stranger.status_code, stranger.json())
        == (202, {"received": 1})
    )

    signed_body = json.dumps([
        {"email": "bob@example.org", "type": "complaint"},
        {"email": "cy@example.org", "type": "bounce", "hard": False},
    ]).encode()  # fmt: skip
    signature = "sha256=" + hmac.new(b"s3cret-webhook-key", signed_body, hashlib.sha256).hexdigest()
    signed = client.post(
        "/webhooks/bounces", content=signed_body, headers={"X-Paperboy-Signature": signature}
    )
    assert signed.status_code == 202
    tampered = client.post(
        "/webhooks/bounces",
        content=signed_body.replace(b"cy@", b"dy@"),
        headers={"X-Paperboy-Signature": signature},
    )
    assert tampered.status_code == 401
    assert statuses(runtime) == {
        "ada@example.org": "bounced",
        "bob@example.org": "complained",
        "cy@example.org": "active",
    }


def test_webhook_refuses_bad_payloads_and_is_off_without_a_secret(runtime: Runtime) -> None:
    client = webhook_client(runtime)
    auth = {"Authorization": "Bearer s3cret-webhook-key"}
    for bad in (b"not json", b'{"email": "a@b.org"}', b'[{"email": "a@b.org", "type": "spam"}]'):
        response = client.post("/webhooks/bounces", content=bad, headers=auth)
        assert response.status_code == 422 and "expected a JSON list" in response.json()["error"]
    off = webhook_client(runtime, secret=None)
    assert off.post("/webhooks/bounces", content=b"[]", headers=auth).status_code == 404


def test_smtp_hard_bounce_suppresses_and_soft_bounces_suppress_at_the_limit(
    runtime: Runtime, smtp_sink: SmtpSink
) -> None:
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=T0)
    add(runtime, "gone@example.org", "full@example.org")
    runtime.settings.soft_bounce_limit = 2
    days = [NOON + dt.timedelta(days=d) for d in range(3)]
    for day in days:
        # Subscribers are sent in id order: gone@ first, then full@.
        if statuses(runtime)["gone@example.org"] == "active":
            smtp_sink.fail_next(1, "550 5.1.1 no such user", stage="rcpt")
        smtp_sink.fail_next(1, "552 5.2.2 mailbox full", stage="rcpt")
        with SmtpMailer(smtp_sink.url) as mailer:
            send_due(runtime.pipeline, mailer=mailer, now=day)
        if day == days[0]:
            assert statuses(runtime) == {
                "gone@example.org": "bounced",
                "full@example.org": "active",
            }
    assert statuses(runtime) == {"gone@example.org": "bounced", "full@example.org": "bounced"}
    assert smtp_sink.commands["rcpt"] == 3  # gone@ once, full@ twice; nobody after suppression
    assert smtp_sink.deliveries == []
