"""Suppression is permanent: after a complaint or a hard bounce no path mails the address again
(subscribe form, confirmation link, one-click unsubscribe then undo or Resume, CLI add and remove)
until an operator runs ``paperboy subscribers unsuppress``."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from service.cli.main import cli
from service.delivery.runtime import Runtime
from service.storage import store
from service.storage.engine import session_scope
from tests.support.web_helpers import NOW, csrf_of, form_token, link_path, mails_to, subscribe


def add(runtime: Runtime, address: str) -> int:
    with session_scope(runtime.factory) as session:
        return store.add_subscriber(
            session, email=address, status="active", timezone="UTC", delivery_hour=8, cadence="daily",
            max_papers=5, topics=[("keyword", "segmentation", 1.0)], now=NOW - dt.timedelta(days=30),
        ).id  # fmt: skip


def suppress(runtime: Runtime, address: str, status: str) -> None:
    with session_scope(runtime.factory) as session:
        assert store.suppress_subscriber(
            session, email=address, status=status, reason="550 5.1.1 / abuse report"
        )


def status_of(runtime: Runtime, address: str) -> str:
    with session_scope(runtime.factory) as session:
        found = store.get_subscriber(session, email=address)
        assert found is not None
        return found.status


def paperboy(runtime: Runtime, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, list(args), env={"PAPERBOY_DATABASE_URL": runtime.settings.database_url}
    )
    return result.exit_code, result.output


@pytest.mark.parametrize("kind", ["complained", "bounced"])
def test_no_path_mails_a_suppressed_address_again(
    runtime: Runtime, client: TestClient, kind: str
) -> None:
    address = f"{kind}@example.org"
    sub_id = add(runtime, address)
    # A confirmation opened before the bounce or complaint arrived...
    assert subscribe(client, address).status_code == 200
    [confirmation] = mails_to(runtime, address)
    suppress(runtime, address, kind)

    # ...cannot activate it afterwards.
    confirm = link_path(confirmation, "confirm")
    client.post(confirm, data={"csrf_token": csrf_of(client.get(confirm).text)})
    assert status_of(runtime, address) == kind

    # The one-click unsubscribe of an old digest keeps the status, so the undo cannot revive it.
    unsubscribe = runtime.signer.make("unsubscribe", s=sub_id)
    assert client.post(f"/unsubscribe/{unsubscribe}").status_code == 200
    assert status_of(runtime, address) == kind
    client.post(f"/unsubscribe/{unsubscribe}/undo", data={"csrf_token": form_token(client)})
    assert status_of(runtime, address) == kind

    # The manage page's Resume changes nothing.
    manage = runtime.signer.make("manage", s=sub_id)
    page = client.post(
        f"/manage/{manage}",
        data={"action": "resume", "csrf_token": form_token(client, f"/manage/{manage}")},
    )
    assert page.status_code == 200 and "Resumed" not in page.text
    assert status_of(runtime, address) == kind

    # The subscribe form answers as it answers a new address, and mails nothing.
    fresh = subscribe(client, "someone-new@example.org")
    again = subscribe(client, address)
    assert again.status_code == fresh.status_code == 200 and again.text == fresh.text
    assert len(mails_to(runtime, address)) == 1  # the confirmation from before, no other

    # The CLI: add refuses it and says why, remove keeps the status that explains it.
    code, output = paperboy(runtime, "subscribers", "add", address, "--topic", "x")
    assert code == 2 and "suppressed" in output and "unsuppress" in output
    code, _ = paperboy(runtime, "subscribers", "remove", address)
    assert code == 0 and status_of(runtime, address) == kind


def test_an_older_one_click_that_turned_a_complaint_into_unsubscribed_still_counts(
    runtime: Runtime, client: TestClient
) -> None:
    sub_id = add(runtime, "old@example.org")
    suppress(runtime, "old@example.org", "complained")
    with session_scope(runtime.factory) as session:  # what the one-click did before the fix
        store.update_subscriber(session, subscriber_id=sub_id, status="unsubscribed")
    manage = runtime.signer.make("manage", s=sub_id)
    client.post(
        f"/manage/{manage}",
        data={"action": "resume", "csrf_token": form_token(client, f"/manage/{manage}")},
    )
    assert status_of(runtime, "old@example.org") == "unsubscribed"
    assert subscribe(client, "old@example.org").status_code == 200
    assert mails_to(runtime, "old@example.org") == []


def test_only_an_operator_unsuppresses_and_it_is_logged(
    runtime: Runtime, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    add(runtime, "back@example.org")
    suppress(runtime, "back@example.org", "bounced")
    code, output = paperboy(runtime, "subscribers", "unsuppress", "nobody@example.org")
    assert code == 2 and "no subscriber" in output
    code, output = paperboy(runtime, "subscribers", "unsuppress", "back@example.org")
    assert code == 0 and "unsuppressed back@example.org (was bounced)" in output
    assert "subscriber_unsuppressed" in output  # the log line, on stderr
    assert status_of(runtime, "back@example.org") == "unsubscribed"
    code, output = paperboy(runtime, "subscribers", "unsuppress", "back@example.org")
    assert code == 2 and "not suppressed" in output
    # Now the address may subscribe again, through the double opt-in.
    assert subscribe(client, "back@example.org").status_code == 200
    [mail] = mails_to(runtime, "back@example.org")
    confirm = link_path(mail, "confirm")
    client.post(confirm, data={"csrf_token": csrf_of(client.get(confirm).text)})
    assert status_of(runtime, "back@example.org") == "active"


def test_purging_a_suppressed_address_keeps_the_record_that_it_is_never_mailed(
    runtime: Runtime, client: TestClient
) -> None:
    add(runtime, "gone@example.org")
    add(runtime, "angry@example.org")
    suppress(runtime, "angry@example.org", "complained")
    code, _ = paperboy(runtime, "subscribers", "remove", "gone@example.org", "--purge")
    assert code == 0
    code, output = paperboy(runtime, "subscribers", "remove", "angry@example.org", "--purge")
    assert code == 0 and "never mailed again" in output
    with session_scope(runtime.factory) as session:
        assert store.get_subscriber(session, email="gone@example.org") is None
        kept = store.get_subscriber(session, email="angry@example.org")
        assert kept is not None and kept.status == "complained" and kept.topics == []
    assert subscribe(client, "angry@example.org").status_code == 200
    assert mails_to(runtime, "angry@example.org") == []
