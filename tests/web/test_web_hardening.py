"""The web front under hostile input (issue 15, items 6-11): odd time zones, signed tokens with
the wrong payload, a race of subscribe posts, deep JSON, big webhook bodies, /metrics, timing of
subscribe, forwarded headers, redirects, unsafe paper links, HSTS and slow clients."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import event

from service.cli.main import cli
from service.delivery.runtime import Runtime
from service.errors import ConfigError, PermanentSendError
from service.settings import load_settings
from service.storage import store
from service.storage.engine import session_scope
from service.web.app import create_app
from tests.support.web_helpers import NOW, Clock, form_token, subscribe

FOLDERS = ["Europe", "America/Argentina", "x" * 300]


@pytest.mark.parametrize("zone", FOLDERS)
def test_a_folder_or_overlong_time_zone_is_a_clear_400_on_subscribe(
    client: TestClient, zone: str
) -> None:
    answer = subscribe(client, "tz@example.org", timezone=zone, follow_redirects=True)
    assert (
        answer.status_code == 200 and "unknown time zone" in answer.text
    )  # the form, with the error


@pytest.mark.parametrize("zone", FOLDERS)
def test_a_folder_or_overlong_time_zone_is_a_clear_400_on_manage(
    runtime: Runtime, client: TestClient, zone: str
) -> None:
    subscriber_id = add(runtime, "manage-tz@example.org")
    path = f"/manage/{runtime.signer.make('manage', s=subscriber_id)}"
    token = form_token(client, path)
    fields = {
        "csrf_token": token,
        "timezone": zone,
        "hour": "8",
        "cadence": "daily",
        "max_papers": "5",
    }
    answer = client.post(path, data=fields)
    assert answer.status_code == 400 and "unknown time zone" in answer.text


@pytest.mark.parametrize("zone", FOLDERS)
def test_a_folder_time_zone_is_a_clear_error_in_settings_and_the_cli(
    zone: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="PAPERBOY_DEFAULT_TIMEZONE: .*unknown time zone"):
        load_settings(default_timezone=zone)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["subscribers", "add", "cli@example.org", "--timezone", zone])
    assert result.exit_code == 2 and "unknown time zone" in result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    monkeypatch.setenv("PAPERBOY_DEFAULT_TIMEZONE", zone)
    result = runner.invoke(cli, ["subscribers", "list"])
    assert result.exit_code == 2 and "unknown time zone" in result.output


def add(runtime: Runtime, address: str, status: str = "active") -> int:
    with session_scope(runtime.factory) as session:
        return store.add_subscriber(
            session, email=address, status=status, timezone="UTC", delivery_hour=8, cadence="daily",
            max_papers=5, topics=[("keyword", "segmentation", 1.0)], now=NOW - dt.timedelta(days=30),
        ).id  # fmt: skip


BAD_PAYLOADS = [
    {"s": "abc"},
    {"s": [1]},
    {"s": None},
    {},
    {"s": 10**30},
    {"s": -1},
    {"s": True},
    {"s": 1.5},
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
def test_a_signed_token_with_the_wrong_payload_is_a_bad_link_not_a_500(
    runtime: Runtime, payload: dict[str, object]
) -> None:
    client = TestClient(
        create_app(runtime, clock=Clock()),
        base_url="https://testserver",
        raise_server_exceptions=False,
    )
    manage = runtime.signer.make("manage", **payload)
    unsubscribe = runtime.signer.make("unsubscribe", **payload)
    feed = runtime.signer.make("feed", **payload)
    answers = [
        client.get(f"/manage/{manage}"),
        client.get(f"/archive/{manage}"),
        client.get(f"/preview/{manage}"),
        client.get(f"/feed/{feed}.atom"),
        client.get(f"/unsubscribe/{unsubscribe}"),
        client.post(f"/unsubscribe/{unsubscribe}"),
        client.get(f"/unsubscribed/{unsubscribe}"),
        client.get(f"/confirm/{runtime.signer.make('confirm', n='x', **payload)}"),
        client.get(f"/feedback/{runtime.signer.make('feedback', p=1, v=1, **payload)}"),
        client.get(f"/feedback/{runtime.signer.make('digest', **payload)}?p=1&v=1"),
        client.get(f"/steer/{runtime.signer.make('digest', **payload)}?p=1&k=author&t=A"),
    ]
    assert [a.status_code for a in answers] == [400] * len(answers), [a.text[:80] for a in answers]


def test_ten_concurrent_subscribe_posts_for_one_new_address_all_answer_normally(
    runtime: Runtime, clock: Clock
) -> None:
    client = TestClient(
        create_app(runtime, clock=clock),
        base_url="https://testserver",
        raise_server_exceptions=False,
    )
    token = form_token(client)
    data = {"email": "race@example.org", "topic": ["segmentation"], "timezone": "UTC", "hour": "7",
            "cadence": "daily", "csrf_token": token}  # fmt: skip
    barrier = threading.Barrier(10)
    codes: list[int] = []

    def post() -> None:
        barrier.wait()
        codes.append(client.post("/subscribe", data=data).status_code)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 10
    with session_scope(runtime.factory) as session:
        assert [s.email for s in store.list_subscribers(session)] == ["race@example.org"]


def test_subscribe_runs_the_same_statements_for_a_new_and_a_known_address(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    """No timing: what takes time is the database work, and it is the same statements for both."""
    add(runtime, "known@example.org")
    token = form_token(client)
    statements: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    def run(address: str) -> list[str]:
        statements.clear()
        event.listen(runtime.engine, "before_cursor_execute", record)
        try:
            answer = client.post("/subscribe", data={"email": address, "topic": ["segmentation"], "timezone": "UTC",
                                                     "hour": "7", "cadence": "daily", "csrf_token": token})  # fmt: skip
        finally:
            event.remove(runtime.engine, "before_cursor_execute", record)
        assert answer.status_code == 200
        return list(statements)

    known = run("known@example.org")
    new = run("new@example.org")
    assert known == new and any(s.startswith("INSERT INTO subscribers") for s in new)
    assert len(known) >= 3


def test_a_deeply_nested_json_body_to_the_bounce_webhook_is_a_400(runtime: Runtime) -> None:
    runtime.settings.bounce_webhook_secret = "hook-secret"
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    body = "[" * 100_000 + "]" * 100_000
    answer = client.post(
        "/webhooks/bounces", content=body, headers={"Authorization": "Bearer hook-secret"}
    )
    assert answer.status_code == 400 and "nested" in answer.json()["error"]


def asgi_post(
    app, path: str, *, headers: list[tuple[bytes, bytes]], chunks: int, chunk_size: int = 1 << 20
):  # type: ignore[no-untyped-def]
    """POST ``chunks`` chunks of ``chunk_size`` bytes straight to the ASGI app; (status, chunks the
    app pulled). No client library in between: this counts what the app itself reads."""
    pulled = 0
    status: list[int] = []

    async def receive():  # type: ignore[no-untyped-def]
        nonlocal pulled
        if pulled >= chunks:
            await asyncio.sleep(3600)
        pulled += 1
        return {"type": "http.request", "body": b"x" * chunk_size, "more_body": pulled < chunks}

    async def send(message):  # type: ignore[no-untyped-def]
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }  # fmt: skip

    async def main() -> None:
        await app(scope, receive, send)

    # In a thread of its own: Playwright's sync API (the session's browser) keeps an event loop
    # running in this one, and asyncio.run refuses to start inside a running loop.
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported below, in the test's thread
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return status[0], pulled


def test_the_bounce_webhook_checks_authentication_and_size_before_reading_the_body(
    runtime: Runtime,
) -> None:
    runtime.settings.bounce_webhook_secret = "hook-secret"
    app = create_app(runtime)
    fifty_mb = str(50 << 20).encode()
    # No credentials at all: refused before a byte of the body is read.
    status, pulled = asgi_post(
        app, "/webhooks/bounces", headers=[(b"content-length", fifty_mb)], chunks=50
    )
    assert status == 401 and pulled == 0
    # A wrong bearer token: the same.
    wrong = [(b"authorization", b"Bearer nope"), (b"content-length", fifty_mb)]
    assert asgi_post(app, "/webhooks/bounces", headers=wrong, chunks=50) == (401, 0)
    # The right token but a Content-Length over the limit: refused unread.
    right = [(b"authorization", b"Bearer hook-secret")]
    assert asgi_post(
        app, "/webhooks/bounces", headers=[*right, (b"content-length", fifty_mb)], chunks=50
    ) == (413, 0)
    # A signature (it needs the body) without a Content-Length: reading stops past the limit.
    signed = [(b"x-paperboy-signature", b"sha256=00")]
    status, pulled = asgi_post(app, "/webhooks/bounces", headers=signed, chunks=50)
    assert status == 413 and pulled <= 2


def test_metrics_needs_the_bearer_token_and_is_absent_without_one(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime))
    assert client.get("/metrics").status_code == 404  # no token set: no page
    runtime.settings.metrics_token = "metrics-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer metrics-token"})
    assert ok.status_code == 200 and "paperboy_subscribers" in ok.text


def test_trailing_slash_redirects_are_relative_whatever_the_host_header(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), base_url="https://testserver")
    token = runtime.signer.make("manage", s=1)
    for path in (f"/manage/{token}/", "//evil.example/healthz/", "/healthz/?a=1"):
        answer = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert answer.status_code in (307, 308), path
        location = answer.headers["location"]
        assert (
            location.startswith("/")
            and not location.startswith("//")
            and "evil.example/" not in location[:14]
        )
    assert client.get("/healthz/?a=1", follow_redirects=False).headers["location"] == "/healthz?a=1"


def test_hsts_in_production_only(runtime: Runtime) -> None:
    assert (
        "strict-transport-security" not in TestClient(create_app(runtime)).get("/healthz").headers
    )
    production = runtime.settings.model_copy(update={"env": "production"})
    runtime.settings = production
    answer = TestClient(create_app(runtime)).get("/healthz")
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    missing = TestClient(create_app(runtime)).get("/nowhere", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "strict-transport-security" in missing.headers


def test_javascript_paper_links_are_dropped_on_the_landing_and_archive_pages(
    runtime: Runtime, tmp_path: Path
) -> None:
    from sqlalchemy import update

    from service.ledger.ingest import ingest_file
    from service.storage.models import Paper

    listing = tmp_path / "papers.jsonl"
    listing.write_text(
        '{"title": "Hostile link paper", "abstract": "segmentation", "upvotes": 900}\n'
    )
    ingest_file(runtime.factory, path=listing, now=NOW)
    with session_scope(runtime.factory) as session:
        session.execute(update(Paper).values(abstract_url="javascript:alert(document.cookie)"))
        paper_id = session.query(Paper.id).scalar()
    subscriber_id = add(runtime, "links@example.org")
    with session_scope(runtime.factory) as session:
        delivery = store.create_delivery(
            session, subscriber_id=subscriber_id, digest_date=dt.date(2025, 8, 19),
            items=[(paper_id, 1.0, ["matches"])], now=NOW,
        )  # fmt: skip
        assert delivery is not None
        store.finish_delivery(
            session, delivery_id=delivery.id, status="sent", now=NOW, message_id="<x@y>"
        )
    client = TestClient(create_app(runtime, clock=Clock()))
    landing = client.get("/")
    archive = client.get(f"/archive/{runtime.signer.make('manage', s=subscriber_id)}")
    for page in (landing, archive):
        assert page.status_code == 200 and "Hostile link paper" in page.text
        assert "javascript:" not in page.text


def test_the_mailer_logs_no_whole_address(smtp_sink, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    import logging
    from email.message import EmailMessage

    from service.delivery.smtp_mailer import SmtpMailer

    caplog.set_level(logging.DEBUG)

    def message() -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = (
            "p@paperboy.example.org",
            "Jane.Doe@Example.org",
            "hi",
        )
        msg.set_content("hello")
        return msg

    with SmtpMailer(smtp_sink.url, timeout=5) as mailer:
        mailer.send(message())
        smtp_sink.fail_next(1, "550 5.1.1 <jane.doe@example.org>: no such user", stage="rcpt")
        with pytest.raises(PermanentSendError):
            mailer.send(message())
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("service"))
    assert "smtp.sent" in logged and "smtp.failed" in logged and "J***@Example.org" in logged
    assert "jane.doe@example.org" not in logged.lower()


def test_the_per_ip_limit_is_shared_by_several_web_processes(settings, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    strict = settings.model_copy(update={"subscribe_limit_per_ip": 3})
    first, second = Runtime(strict), Runtime(strict)
    first.migrate()
    try:
        a = TestClient(create_app(first, clock=clock), base_url="https://testserver")
        b = TestClient(create_app(second, clock=clock), base_url="https://testserver")
        assert subscribe(a, "one@example.org").status_code == 200
        assert subscribe(b, "two@example.org").status_code == 200
        assert subscribe(a, "three@example.org").status_code == 200
        assert (
            subscribe(b, "four@example.org").status_code == 429
        )  # b saw one; the database saw three
        clock.advance(minutes=61)
        assert subscribe(b, "four@example.org").status_code == 200
    finally:
        first.engine.dispose()
        second.engine.dispose()


class Served:
    """``create_app`` under a real uvicorn, configured as ``paperboy serve`` configures it."""

    def __init__(self, runtime: Runtime) -> None:
        import socket

        import uvicorn

        from service.web.server import uvicorn_options

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(runtime), host="127.0.0.1", port=self.port, log_config=None,
            **uvicorn_options(runtime.settings),
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        import time

        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise AssertionError("uvicorn did not start")

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def posts_from_forged_ips(url: str) -> list[int]:
    import httpx

    from tests.support.web_helpers import csrf_of

    with httpx.Client(base_url=url) as client:
        token = csrf_of(client.get("/").text)
        return [
            client.post(
                "/subscribe",
                data={"email": f"xff{n}@example.org", "topic": "segmentation", "timezone": "UTC", "hour": "7",
                      "cadence": "daily", "csrf_token": token},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(3)
        ]  # fmt: skip


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(settings) -> None:  # type: ignore[no-untyped-def]
    untrusted = Runtime(settings.model_copy(update={"subscribe_limit_per_ip": 1}))
    untrusted.migrate()
    with Served(untrusted) as served:
        # The forged header is ignored: the three posts come from one client, 127.0.0.1.
        assert posts_from_forged_ips(served.url) == [200, 429, 429]
    untrusted.engine.dispose()
    trusted = Runtime(
        settings.model_copy(update={"subscribe_limit_per_ip": 1, "trusted_proxies": "127.0.0.1"})
    )
    with Served(trusted) as served:
        # Behind a configured proxy the header names the client: three clients, one post each.
        assert posts_from_forged_ips(served.url) == [200, 200, 200]
    trusted.engine.dispose()


def test_a_client_that_trickles_its_request_is_disconnected(settings) -> None:  # type: ignore[no-untyped-def]
    import socket
    import time

    runtime = Runtime(settings.model_copy(update={"web_read_timeout_seconds": 1}))
    runtime.migrate()
    with (
        Served(runtime) as served,
        socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock,
    ):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for _ in range(100):  # a header line every 0.2 s, never the blank line that ends them
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                sock.settimeout(0.2)
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
            time.sleep(0)
        assert closed, "the server kept a trickling client connected for 20 s"
        # A prompt client on a fresh connection is served as usual.
        import httpx

        assert httpx.get(f"{served.url}/healthz").status_code == 200
    runtime.engine.dispose()
