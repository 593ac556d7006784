"""A real HTTP server on 127.0.0.1 that replays scripted responses, for the HTTP source tests.

Each path maps to a handler `(Request) -> Reply`; a Reply can be delayed (for timeouts), carry
any headers (ETag, Retry-After, RateLimit), or be cut short after N bytes of its body while
announcing the full Content-Length (a truncated transfer). Every request is logged with its
query and headers, and the server counts how many requests were in flight at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.paths import DATA
from tests.support.requirements import need


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float = 0.0  # time.monotonic() on arrival


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    truncate_at: int | None = None  # send only this many body bytes, then close


Handler = Callable[[Request], Reply]


class ReplayServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                request = Request(
                    path=parts.path,
                    query={
                        k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()
                    },
                    headers={k.lower(): v for k, v in self.headers.items()},
                    at=time.monotonic(),
                )
                with server._lock:
                    server.requests.append(request)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                answered = False

                def answer() -> None:
                    # Counted as answered before its last bytes go out: once the client has read
                    # them it may send its next request, which must not overlap this one.
                    nonlocal answered
                    if not answered:
                        answered = True
                        with server._lock:
                            server.in_flight -= 1

                try:
                    handler = server.routes.get(parts.path)
                    reply = (
                        handler(request)
                        if handler
                        else Reply(404, b"no route " + parts.path.encode())
                    )
                    if reply.delay:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    if reply.truncate_at is not None:
                        self.send_header("Connection", "close")
                    body = (
                        reply.body if reply.truncate_at is None else reply.body[: reply.truncate_at]
                    )
                    if reply.status == 304 or not body:
                        answer()
                    self.end_headers()
                    if reply.status != 304 and body:
                        answer()
                        self.wfile.write(body)
                    if reply.truncate_at is not None:
                        self.wfile.flush()
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)
                finally:
                    answer()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def sequence(*replies: Reply) -> Handler:
    """A handler answering with these replies in turn, repeating the last one."""
    queue = list(replies)

    def handle(request: Request) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


def with_etag(body: bytes, etag: str, headers: dict[str, str] | None = None) -> Handler:
    """Serve body with an ETag; answer 304 when the request names that ETag."""

    def handle(request: Request) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag, **(headers or {})})

    return handle


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it; records every sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def replay_server() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def recorded_dir() -> Path:
    """tests/data/recorded: real Hugging Face and arXiv responses (tests/data/SOURCES.md)."""
    found = DATA / "recorded"
    if not found.is_dir():
        need("test data", f"{found} is missing: the recorded responses are part of the repository")
    return found
