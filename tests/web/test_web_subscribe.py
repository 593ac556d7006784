"""Subscribing through the web front: the landing form, the double opt-in, and the abuse cases
(enumeration, CSRF, rate limits per address and per IP, the honeypot)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time

from service.delivery.due import next_digest_for
from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.settings import Settings
from service.storage import store
from service.storage.engine import session_scope
from service.web.app import create_app
from tests.support.web_helpers import (
    NOW,
    Clock,
    csrf_of,
    form_token,
    html_of,
    link_path,
    mails_to,
    outbox,
    subscribe,
    text_of,
)

CSRF_FIELD = re.compile(r'name="csrf_token" value="[^"]+"')


def subscriber(runtime: Runtime, address: str):  # type: ignore[no-untyped-def]
    with session_scope(runtime.factory) as session:
        found = store.get_subscriber(session, email=address)
        if found is not None:
            session.expunge(found)
        return found


def add(
    runtime: Runtime, address: str, status: str, topics: list[tuple[str, str, float]] | None = None
) -> int:
    with session_scope(runtime.factory) as session:
        return store.add_subscriber(
            session, email=address, status=status, timezone="UTC", delivery_hour=8, cadence="daily",
            max_papers=5, topics=topics or [("keyword", "old topic", 1.0)], now=NOW - dt.timedelta(days=30),
        ).id  # fmt: skip


def test_landing_page_has_the_form_suggestions_and_trending_papers(
    client: TestClient, papers: None
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.text.count('<li class="paper">') == 30
    assert 'action="/subscribe"' in page.text and csrf_of(page.text)
    assert (
        "paperboy_csrf" in page.headers["set-cookie"] and "HttpOnly" in page.headers["set-cookie"]
    )
    # Every input has a label; the honeypot is out of sight and out of the tab order.
    for field_id in ("email", "topic-1", "topic-2", "topic-3", "hour", "timezone", "website"):
        assert f'for="{field_id}"' in page.text and f'id="{field_id}"' in page.text
    assert (
        re.search(r'<div class="trap" aria-hidden="true">', page.text)
        and 'tabindex="-1"' in page.text
    )
    suggestions = re.findall(r'<option value="([^"]+)"></option>', page.text)
    assert {"language models", "category:cs.CL"} <= set(
        suggestions
    ) and "you need" not in suggestions
    assert "<option selected>UTC</option>" in page.text and "data-detect-timezone" in page.text
    # No inline script or style: the CSP forbids them.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text) and " style=" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_subscribe_sends_one_confirmation_and_confirming_takes_a_post(
    runtime: Runtime, client: TestClient, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = subscribe(client, "Ada@Example.org", topics=("segmentation", "category:cs.CV", ""))
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    pending = subscriber(runtime, "ada@example.org")
    assert (
        pending is not None and pending.status == "pending" and pending.timezone == "Europe/Berlin"
    )
    # The topics wait in the confirmation (a new and a known address cost the same statements).
    assert pending.topics == []
    [mail] = outbox(runtime)
    assert (
        mail["To"] == "ada@example.org" and mail["Subject"] == "Confirm your Paperboy subscription"
    )
    assert "daily at 07:00 (Europe/Berlin)" in text_of(mail) and "category: cs.CV" in html_of(mail)
    confirm = link_path(mail, "confirm")
    assert confirm in html_of(mail)

    page = client.get(confirm)  # what a link scanner does: nothing changes
    assert (
        page.status_code == 200
        and f'action="{confirm}"' in page.text
        and 'method="post"' in page.text
    )
    assert subscriber(runtime, "ada@example.org").status == "pending"

    clock.advance(minutes=5)
    done = client.post(confirm, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "You are subscribed" in done.text
    active = subscriber(runtime, "ada@example.org")
    assert (
        active.status == "active"
        and active.confirmed_at == clock.now
        and active.consent_ip == "testclient"
    )
    assert active.confirm_nonce is None
    assert [(t.kind, t.text) for t in active.topics] == [
        ("keyword", "segmentation"),
        ("category", "cs.CV"),
    ]

    again = client.post(confirm, data={"csrf_token": csrf_of(page.text)})  # single use
    assert again.status_code == 400 and "already used" in again.text
    assert client.get(confirm).status_code == 400
    # Neither the address nor any token reaches the logs.
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("service", "uvicorn"))
    )
    assert "confirmation_mail_sent" in logged and "a***@example.org" in logged
    assert "ada@example.org" not in logged.lower() and confirm.split("/")[-1] not in logged


def test_the_answer_is_the_same_for_new_pending_active_and_unsubscribed_addresses(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    add(runtime, "active@example.org", "active")
    add(runtime, "gone@example.org", "unsubscribed")
    subscribe(client, "pending@example.org")
    clock.advance(hours=2)  # past the hourly limit, so every address gets its mail
    answers = {
        a: subscribe(client, a)
        for a in (
            "new@example.org",
            "pending@example.org",
            "active@example.org",
            "gone@example.org",
        )
    }
    bodies = {a: r.text for a, r in answers.items()}
    assert len(set(bodies.values())) == 1, "the page differs by address state"
    for response in answers.values():
        headers = {k: v for k, v in response.headers.items() if k.lower() != "date"}
        assert response.status_code == 200
        assert headers == {
            k: v for k, v in answers["new@example.org"].headers.items() if k.lower() != "date"
        }
    for address in answers:
        assert mails_to(runtime, address), f"no confirmation mail to {address}"
    # The active subscriber's mail offers a change; their topics stay until they confirm it.
    [change] = mails_to(runtime, "active@example.org")
    assert change[
        "Subject"
    ] == "Confirm the change to your Paperboy digest" and "/manage/" in text_of(change)
    assert [t.text for t in subscriber(runtime, "active@example.org").topics] == ["old topic"]
    assert subscriber(runtime, "gone@example.org").status == "unsubscribed"


def test_an_active_subscriber_confirms_a_change_knowingly(
    runtime: Runtime, client: TestClient
) -> None:
    add(runtime, "ada@example.org", "active")
    subscribe(client, "ada@example.org", topics=("diffusion models",), hour="6", cadence="weekly")
    [mail] = mails_to(runtime, "ada@example.org")
    page = client.get(link_path(mail, "confirm"))
    assert "Change your digest?" in page.text and "Your current topics: old topic" in page.text
    assert subscriber(runtime, "ada@example.org").cadence == "daily"
    client.post(link_path(mail, "confirm"), data={"csrf_token": csrf_of(page.text)})
    changed = subscriber(runtime, "ada@example.org")
    assert [t.text for t in changed.topics] == ["diffusion models"]
    assert (changed.status, changed.cadence, changed.delivery_hour, changed.timezone) == (
        "active",
        "weekly",
        6,
        "Europe/Berlin",
    )


def test_at_most_one_confirmation_mail_per_address_per_hour_across_restarts(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    first = subscribe(client, "ada@example.org")
    second = subscribe(client, "ada@example.org")
    assert first.text == second.text and len(outbox(runtime)) == 1
    restarted = TestClient(create_app(runtime, clock=clock), base_url="https://testserver")
    clock.advance(minutes=59)
    assert subscribe(restarted, "ada@example.org").text == first.text
    assert len(outbox(runtime)) == 1
    clock.advance(minutes=2)
    subscribe(restarted, "ada@example.org")
    assert len(outbox(runtime)) == 2
    # The newer link replaces the older one: only the latest confirmation is open.
    older, newer = outbox(runtime)
    assert client.get(link_path(older, "confirm")).status_code == 400
    assert client.get(link_path(newer, "confirm")).status_code == 200


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"subscribe_limit_per_ip": 3})


def test_too_many_requests_from_one_ip_get_429(
    strict_settings: Settings, clock: Clock, migrate: Callable[[str], None]
) -> None:
    migrate(strict_settings.database_url)
    runtime = Runtime(strict_settings)
    client = TestClient(create_app(runtime, clock=clock), base_url="https://testserver")
    for n in range(3):
        assert subscribe(client, f"user{n}@example.org").status_code == 200
    refused = subscribe(client, "user9@example.org")
    assert refused.status_code == 429 and "Too many" in refused.text
    assert subscriber(runtime, "user9@example.org") is None and len(outbox(runtime)) == 3
    clock.advance(minutes=61)
    assert subscribe(client, "user9@example.org").status_code == 200
    runtime.engine.dispose()


def test_the_honeypot_answers_as_usual_and_does_nothing(
    runtime: Runtime, client: TestClient
) -> None:
    normal = subscribe(client, "human@example.org")
    trapped = subscribe(client, "bot@example.org", website="http://spam.example")
    assert trapped.status_code == 200 and trapped.text == normal.text
    assert subscriber(runtime, "bot@example.org") is None and not mails_to(
        runtime, "bot@example.org"
    )


def test_subscribe_without_a_valid_csrf_token_is_refused(
    runtime: Runtime, client: TestClient
) -> None:
    assert subscribe(client, "a@example.org", csrf_token="").status_code == 403
    assert subscribe(client, "a@example.org", csrf_token="forged.token.value").status_code == 403
    token = form_token(client)
    other = TestClient(
        client.app, base_url="https://testserver"
    )  # another visitor's token, without its cookie
    other.get("/")
    assert subscribe(other, "a@example.org", csrf_token=token).status_code == 403
    client.cookies.clear()
    assert (
        client.post("/subscribe", data={"email": "a@example.org", "csrf_token": token}).status_code
        == 403
    )
    assert subscriber(runtime, "a@example.org") is None and outbox(runtime) == []


def test_bad_input_is_named_and_the_form_keeps_what_was_typed(
    runtime: Runtime, client: TestClient
) -> None:
    bad = subscribe(client, "not-an-address", topics=("graph neural networks",))
    assert (
        bad.status_code == 200
        and "Please enter a full email address, like name@example.org" in bad.text
    )
    assert 'value="graph neural networks"' in bad.text and 'value="not-an-address"' in bad.text
    # The field is marked and points at the message.
    email = re.search(r'<input id="email"[^>]*>', bad.text).group(0)
    assert 'aria-invalid="true"' in email and 'aria-describedby="subscribe-error"' in email
    assert 'id="subscribe-error"' in bad.text and bad.text.count('aria-invalid="true"') == 1
    bad_zone = subscribe(client, "a@example.org", timezone="Mars/Olympus")
    assert "unknown time zone" in bad_zone.text
    zone = re.search(r'<select id="timezone"[^>]*>', bad_zone.text).group(0)
    assert 'aria-invalid="true"' in zone and 'aria-invalid="true"' not in re.search(
        r'<input id="email"[^>]*>', bad_zone.text
    ).group(0)
    for fields in ({"email": ""}, {"hour": "25"}, {"cadence": "hourly"}):
        answer = subscribe(client, fields.get("email", "a@example.org"), **fields)
        assert answer.status_code == 200 and 'class="error"' in answer.text
    assert outbox(runtime) == [] and subscriber(runtime, "a@example.org") is None


def test_a_refused_form_redirects_so_a_reload_never_posts_it_again(
    runtime: Runtime, client: TestClient
) -> None:
    """Post/Redirect/Get: 303 to the form; the values and error ride in a short-lived signed cookie."""
    refused = subscribe(
        client, "name@", topics=("graph neural networks", "category:cs.LG"), follow_redirects=False
    )
    assert refused.status_code == 303 and refused.headers["location"] == "/#subscribe"
    cookie = refused.headers["set-cookie"]
    assert (
        "paperboy_form=" in cookie
        and "HttpOnly" in cookie
        and "Max-Age=600" in cookie
        and "Secure" in cookie
    )
    shown = client.get("/")
    assert "Please enter a full email address" in shown.text and 'value="name@"' in shown.text
    assert (
        'value="category:cs.LG"' in shown.text and "paperboy_form=" in shown.headers["set-cookie"]
    )
    again = client.get("/")  # the reload: a fresh form, the error is gone
    assert 'class="error"' not in again.text and 'value="name@"' not in again.text
    # A forged or stale cookie is ignored.
    client.cookies.set("paperboy_form", "forged.value", domain="testserver")
    assert 'class="error"' not in client.get("/").text
    assert outbox(runtime) == []
    # The answer to a refused form is the same whatever the address's status: nothing is looked up.
    add(runtime, "known@example.org", "active")
    pages = []
    for address in ("known@example.org", "stranger@example.org"):
        assert subscribe(client, address, hour="99", follow_redirects=False).status_code == 303
        page = client.get("/").text.replace(address, "ADDRESS")
        pages.append(CSRF_FIELD.sub("", page))
    assert pages[0] == pages[1] and "ADDRESS" in pages[0]


def test_expired_tampered_and_wrong_purpose_confirm_links_are_refused(
    runtime: Runtime, client: TestClient
) -> None:
    subscribe(client, "ada@example.org")
    link = link_path(outbox(runtime)[0], "confirm")
    sub = subscriber(runtime, "ada@example.org")
    with freeze_time(dt.datetime.now() - dt.timedelta(hours=49)):
        old = runtime.signer.make("confirm", s=sub.id, n=sub.confirm_nonce)
    expired = client.get(f"/confirm/{old}")
    assert expired.status_code == 400 and "expired" in expired.text
    assert client.get(link[:-3] + "xyz").status_code == 400
    manage = runtime.signer.make("manage", s=sub.id)
    assert client.get(f"/confirm/{manage}").status_code == 400
    token = form_token(client)
    assert client.post(f"/confirm/{old}", data={"csrf_token": token}).status_code == 400
    assert client.post(link, data={}).status_code == 403  # no CSRF field
    assert subscriber(runtime, "ada@example.org").status == "pending"


def test_a_complained_or_bounced_address_gets_the_same_answer_and_no_mail(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    add(runtime, "spam-button@example.org", "complained")
    add(runtime, "bounced@example.org", "bounced")
    new = subscribe(client, "fresh@example.org")
    complained = subscribe(client, "spam-button@example.org")
    bounced = subscribe(client, "bounced@example.org")
    assert new.status_code == complained.status_code == bounced.status_code == 200
    assert new.text == complained.text == bounced.text
    assert mails_to(runtime, "spam-button@example.org") == []
    assert subscriber(runtime, "spam-button@example.org").status == "complained"
    # A bounced address is not mailed either (tests/delivery/test_suppression.py: only an operator clears it).
    assert mails_to(runtime, "bounced@example.org") == []
    assert subscriber(runtime, "bounced@example.org").status == "bounced"


def confirm_as(runtime: Runtime, client: TestClient, address: str, **fields: str) -> str:
    """Subscribe and confirm; the text of the confirmed page."""
    assert subscribe(client, address, **fields).status_code == 200
    confirm = link_path(mails_to(runtime, address)[-1], "confirm")
    done = client.post(confirm, data={"csrf_token": csrf_of(client.get(confirm).text)})
    assert done.status_code == 200 and "You are subscribed" in done.text
    return " ".join(re.sub(r"<[^>]+>", "", done.text).split())


def test_the_confirmed_page_names_the_first_digest(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    # NOW is 11:00 in Berlin, a Wednesday.
    assert "Your first digest: today, 18:00 Europe/Berlin." in confirm_as(
        runtime, client, "evening@example.org", hour="18"
    )
    assert "Your first digest: today, within the next 5 minutes." in confirm_as(
        runtime, client, "morning@example.org", hour="7"
    )  # 07:00 has passed but the 6-hour deadline has not: the next delivery tick sends it
    clock.advance(hours=3)  # 14:00 in Berlin: today's 07:00 digest would be past its deadline
    assert "Your first digest: tomorrow, 07:00 Europe/Berlin." in confirm_as(
        runtime, client, "late@example.org", hour="7"
    )
    assert "Your first digest: tomorrow, 07:00 Europe/Berlin; then every Thursday." in confirm_as(
        runtime, client, "weekly@example.org", hour="7", cadence="weekly"
    )
    assert "Your first digest: today, 09:00 America/New_York; then every Wednesday." in confirm_as(
        runtime, client, "ny@example.org", hour="9", cadence="weekly", timezone="America/New_York"
    )


@pytest.mark.parametrize(
    ("now", "timezone", "hour", "cadence", "last_days_ago"),
    [
        (NOW, "Europe/Berlin", 18, "daily", None),
        (NOW, "Europe/Berlin", 7, "daily", None),
        (NOW, "Europe/Berlin", 7, "daily", 0),  # today's is sent: tomorrow's next
        (NOW + dt.timedelta(hours=4), "Europe/Berlin", 7, "daily", None),  # past the deadline
        (NOW, "Europe/Berlin", 7, "weekly", 3),  # weekly: seven local days after the last one
        (NOW, "Pacific/Kiritimati", 8, "daily", None),  # already tomorrow there
        (dt.datetime(2025, 3, 29, 12, tzinfo=dt.UTC), "Europe/Berlin", 2, "daily", None),  # DST gap
    ],
)
def test_the_first_digest_time_is_when_the_scheduler_sends_it(
    runtime: Runtime,
    now: dt.datetime,
    timezone: str,
    hour: int,
    cadence: str,
    last_days_ago: int | None,
) -> None:
    """At the moment named, send_due plans the digest; a minute before, it does not."""
    sub_id = add(runtime, "ada@example.org", "active")
    with session_scope(runtime.factory) as session:
        store.update_subscriber(
            session, subscriber_id=sub_id, timezone=timezone, delivery_hour=hour, cadence=cadence
        )
        if last_days_ago is not None:
            local_today = now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
            last = store.create_delivery(
                session, subscriber_id=sub_id, digest_date=local_today - dt.timedelta(days=last_days_ago),
                items=[], now=now,
            )  # fmt: skip
            store.finish_delivery(session, delivery_id=last.id, status="sent", now=now)
    with session_scope(runtime.factory) as session:
        row = store.get_subscriber_by_id(session, subscriber_id=sub_id)
        date, moment = next_digest_for(session, settings=runtime.settings, subscriber=row, now=now)

    def planned(at: dt.datetime) -> str:
        [outcome] = send_due(runtime.pipeline, mailer=None, now=at, dry_run=True).outcomes
        return outcome.status

    assert planned(moment) == "would_send"
    if moment > now:
        assert planned(moment - dt.timedelta(minutes=1)) != "would_send"
    assert moment - now < dt.timedelta(days=8) and date >= now.date() - dt.timedelta(days=1)
