"""The fetch layer against a real local HTTP server: retries, waits, timeouts, 304, politeness."""

from __future__ import annotations

import threading

import pytest

from service.errors import FetchError
from service.settings import load_settings
from service.sources.http import Fetcher, Gate
from tests.support.http_replay import FakeClock, ReplayServer, Reply, sequence, with_etag


def fetcher(clock: FakeClock, **options: object) -> Fetcher:
    defaults: dict[str, object] = {
        "user_agent": "Paperboy/test (contact: ops@example.org)",
        "timeout": 2.0,
        "max_attempts": 3,
        "backoff": 2.0,
        "max_wait": 60.0,
        "clock": clock.clock,
        "sleep": clock.sleep,
    }
    defaults.update(options)
    return Fetcher(**defaults)  # type: ignore[arg-type]


def test_user_agent_names_the_operator_contact(replay_server: ReplayServer) -> None:
    replay_server.routes["/x"] = sequence(Reply(200, b"ok"))
    settings = load_settings(contact="https://example.org/ops")
    with Fetcher.from_settings(settings) as f:
        assert f.get(f"{replay_server.url}/x").body == b"ok"
    agent = replay_server.requests[0].headers["user-agent"]
    assert agent.startswith("Paperboy/") and "contact: https://example.org/ops" in agent
    # Without a contact the From: address stands in.
    assert (
        "contact: digest@example.org"
        in load_settings(from_address="Digest <digest@example.org>").user_agent
    )


def test_500_then_success_is_retried_with_backoff(replay_server: ReplayServer) -> None:
    replay_server.routes["/x"] = sequence(
        Reply(500, b"oops"), Reply(502, b"oops"), Reply(200, b"fine")
    )
    clock = FakeClock()
    with fetcher(clock) as f:
        response = f.get(f"{replay_server.url}/x")
    assert (response.status, response.body) == (200, b"fine")
    assert len(replay_server.requests) == 3
    assert clock.sleeps == [2.0, 4.0]  # exponential backoff, slept on the injected sleeper


def test_retries_are_bounded_and_the_error_names_the_url(replay_server: ReplayServer) -> None:
    replay_server.routes["/down"] = sequence(Reply(503, b"maintenance"))
    clock = FakeClock()
    with fetcher(clock) as f, pytest.raises(FetchError, match=r"/down: HTTP 503.*after 3 attempts"):
        f.get(f"{replay_server.url}/down")
    assert len(replay_server.requests) == 3


def test_429_waits_as_retry_after_says(replay_server: ReplayServer) -> None:
    replay_server.routes["/x"] = sequence(
        Reply(429, b"slow down", {"Retry-After": "7"}), Reply(200, b"ok")
    )
    clock = FakeClock()
    with fetcher(clock) as f:
        assert f.get(f"{replay_server.url}/x").body == b"ok"
    assert clock.sleeps == [7.0]


def test_429_with_ratelimit_header_waits_for_the_window(replay_server: ReplayServer) -> None:
    limited = Reply(
        429,
        b"",
        {"RateLimit": '"api";r=0;t=42', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'},
    )
    replay_server.routes["/x"] = sequence(limited, Reply(200, b"ok"))
    clock = FakeClock()
    with fetcher(clock) as f:
        assert f.get(f"{replay_server.url}/x").body == b"ok"
    assert sum(clock.sleeps) == pytest.approx(42.0)


def test_an_exhausted_window_delays_the_next_request(replay_server: ReplayServer) -> None:
    replay_server.routes["/x"] = sequence(
        Reply(200, b"1", {"RateLimit": '"api";r=0;t=30'}), Reply(200, b"2")
    )
    clock = FakeClock()
    with fetcher(clock) as f:
        f.get(f"{replay_server.url}/x")
        assert clock.sleeps == []
        f.get(f"{replay_server.url}/x")
    assert clock.sleeps == [30.0]


def test_a_wait_longer_than_allowed_fails_the_fetch_at_once(replay_server: ReplayServer) -> None:
    replay_server.routes["/x"] = sequence(Reply(429, b"", {"Retry-After": "3600"}))
    clock = FakeClock()
    with (
        fetcher(clock, max_wait=300) as f,
        pytest.raises(FetchError, match="3600 s.*PAPERBOY_HTTP_MAX_WAIT_SECONDS"),
    ):
        f.get(f"{replay_server.url}/x")
    assert len(replay_server.requests) == 1 and clock.sleeps == []


def test_a_timeout_is_retried_then_reported(replay_server: ReplayServer) -> None:
    # A 1 s timeout: far above a local reply's time on a loaded machine, far below the delay.
    replay_server.routes["/slow"] = sequence(Reply(200, b"late", delay=10), Reply(200, b"quick"))
    clock = FakeClock()
    with fetcher(clock, timeout=1.0) as f:
        assert f.get(f"{replay_server.url}/slow").body == b"quick"
    replay_server.routes["/slower"] = sequence(Reply(200, b"late", delay=10))
    with (
        fetcher(clock, timeout=1.0, max_attempts=2) as f,
        pytest.raises(FetchError, match="timed out"),
    ):
        f.get(f"{replay_server.url}/slower")


def test_a_truncated_body_is_a_network_error_not_a_short_document(
    replay_server: ReplayServer,
) -> None:
    replay_server.routes["/cut"] = sequence(
        Reply(200, b"<rss>" + b"x" * 500 + b"</rss>", truncate_at=100)
    )
    clock = FakeClock()
    with fetcher(clock, max_attempts=2) as f, pytest.raises(FetchError, match="network error"):
        f.get(f"{replay_server.url}/cut")
    assert len(replay_server.requests) == 2


def test_a_4xx_is_not_retried(replay_server: ReplayServer) -> None:
    replay_server.routes["/x"] = sequence(Reply(400, b'{"error":"Invalid date"}'))
    with fetcher(FakeClock()) as f, pytest.raises(FetchError, match="HTTP 400.*Invalid date"):
        f.get(f"{replay_server.url}/x")
    assert len(replay_server.requests) == 1


def test_conditional_request_gets_304(replay_server: ReplayServer) -> None:
    replay_server.routes["/feed"] = with_etag(
        b"<rss/>", '"v1"', {"Last-Modified": "Wed, 20 Aug 2025 04:00:00 GMT"}
    )
    with fetcher(FakeClock()) as f:
        first = f.get(f"{replay_server.url}/feed")
        assert (first.status, first.etag, first.last_modified) == (
            200,
            '"v1"',
            "Wed, 20 Aug 2025 04:00:00 GMT",
        )
        second = f.get(
            f"{replay_server.url}/feed", etag=first.etag, last_modified=first.last_modified
        )
    assert second.not_modified and second.body == b""
    assert replay_server.requests[1].headers["if-none-match"] == '"v1"'
    assert replay_server.requests[1].headers["if-modified-since"] == "Wed, 20 Aug 2025 04:00:00 GMT"


def test_arxiv_gate_spaces_requests_three_seconds_apart(replay_server: ReplayServer) -> None:
    clock = FakeClock()
    starts: list[float] = []

    def record(request: object) -> Reply:
        starts.append(clock.clock())
        return Reply(200, b"<feed/>")

    replay_server.routes["/rss/cs.LG"] = record
    replay_server.routes["/api/query"] = record
    gate = Gate(3.0, clock=clock.clock, sleep=clock.sleep)
    with fetcher(clock, gates={"arxiv": gate}) as f:
        f.get(f"{replay_server.url}/rss/cs.LG", gate="arxiv")
        f.get(f"{replay_server.url}/api/query", params={"id_list": "2508.13426"}, gate="arxiv")
        f.get(f"{replay_server.url}/api/query", params={"id_list": "2508.13428"}, gate="arxiv")
        f.get(f"{replay_server.url}/rss/cs.LG")  # not through the gate: no wait
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps[:2] == [pytest.approx(3.0), pytest.approx(3.0)]
    assert gaps[2] == 0
    assert len(clock.sleeps) == 2


def test_arxiv_gate_allows_one_connection_at_a_time_across_threads(
    replay_server: ReplayServer,
) -> None:
    clock = FakeClock()
    replay_server.routes["/rss/cs.LG"] = sequence(Reply(200, b"<feed/>", delay=0.05))
    gate = Gate(3.0, clock=clock.clock, sleep=clock.sleep)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with fetcher(clock, gates={"arxiv": gate}) as f:
                for _ in range(3):
                    f.get(f"{replay_server.url}/rss/cs.LG", gate="arxiv")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(replay_server.requests) == 9
    assert replay_server.max_in_flight == 1
    assert len(clock.sleeps) == 8 and all(s == pytest.approx(3.0) for s in clock.sleeps)
