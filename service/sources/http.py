"""Fetch for the HTTP sources: bytes and validators out, no parsing, polite and bounded.

One `Fetcher` per ingest run wraps an httpx client with a descriptive User-Agent, timeouts and
bounded retries (tenacity) on 5xx answers, 429s and network errors. Waits honour the server:
`Retry-After` (seconds or an HTTP date) and the `RateLimit` header Hugging Face sends
(`"api";r=0;t=55` — nothing remaining, window resets in 55 s). A wait longer than
`max_wait` fails the fetch instead of blocking the scheduler; the next tick tries again.

Requests in one *gate* (all arXiv endpoints share the "arxiv" gate) go one at a time and start
at least `interval` seconds after the previous one ended, retries included: arXiv asks for one
request every 3 seconds over a single connection. The clock and the sleeper are injectable so
tests check the spacing without sleeping. Gates are process-wide by default, so two fetchers in
one process (a scheduled tick and a backfill) still share arXiv's budget.

Conditional requests: the caller passes the ETag / Last-Modified stored for a URL and gets a
304 back as `Response.not_modified`; it stores the new validators only once the body has been
ingested, so a failed ingest is fetched again in full next time.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from service import logs
from service.errors import FetchError

log = logs.get_logger(__name__)

Clock = Callable[[], float]
Sleeper = Callable[[float], None]

# RateLimit: "api";r=0;t=55 (draft-ietf-httpapi-ratelimit-headers, as Hugging Face sends it);
# older drafts split it into RateLimit-Remaining / RateLimit-Reset.
_RATELIMIT_R = re.compile(r"(?:^|;)\s*r=(\d+)")
_RATELIMIT_T = re.compile(r"(?:^|;)\s*t=(\d+)")


@dataclass(frozen=True, slots=True)
class Response:
    """A fetched document: 200 with its body, or 304 (nothing new since the validators)."""

    url: str  # as requested, query included
    status: int
    body: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Gate:
    """One request at a time, each starting `interval` seconds after the previous one ended."""

    def __init__(
        self, interval: float, *, clock: Clock = time.monotonic, sleep: Sleeper = time.sleep
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._last_end: float | None = None

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._last_end is not None:
                wait = self._last_end + self.interval - self.clock()
                if wait > 0:
                    self.sleep(wait)
            try:
                yield
            finally:
                self._last_end = self.clock()


_PROCESS_GATES: dict[str, Gate] = {}
_PROCESS_GATES_LOCK = threading.Lock()


def process_gate(name: str, interval: float) -> Gate:
    """The process-wide gate `name`, created on first use; a larger interval widens it."""
    with _PROCESS_GATES_LOCK:
        gate = _PROCESS_GATES.get(name)
        if gate is None:
            gate = _PROCESS_GATES[name] = Gate(interval)
        gate.interval = max(gate.interval, interval)
        return gate


class _Retryable(Exception):
    """One attempt failed in a way worth another: 5xx, 429, timeout, dropped connection."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Fetcher:
    """GET with politeness, retries and conditional requests; close() when done (or `with`)."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff: float = 2.0,
        max_wait: float = 300.0,
        gates: Mapping[str, Gate] | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleeper = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.gates = dict(gates or {})
        self.clock = clock
        self.sleep = sleep
        self._not_before: dict[str, float] = {}  # host → clock time its rate-limit window reopens
        self._client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> Fetcher:
        """A fetcher configured by the settings, with the process-wide arXiv gate."""
        options: dict[str, Any] = {
            "user_agent": settings.user_agent,
            "timeout": settings.http_timeout_seconds,
            "max_attempts": settings.http_max_attempts,
            "backoff": settings.http_backoff_seconds,
            "max_wait": settings.http_max_wait_seconds,
            "gates": {"arxiv": process_gate("arxiv", settings.arxiv_interval_seconds)},
        }
        options.update(overrides)
        return cls(**options)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        gate: str | None = None,
    ) -> Response:
        """Return the document at url (200) or a 304; raise FetchError once retries are spent."""
        request_url = str(httpx.URL(url, params=params)) if params else url
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self.sleep,
            before_sleep=lambda state: self._log_retry(request_url, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(request_url, headers, gate)
        except _Retryable as exc:
            raise FetchError(
                f"{request_url}: {exc.reason} (gave up after {self.max_attempts} attempts)"
            ) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _attempt(self, url: str, headers: dict[str, str], gate_name: str | None) -> Response:
        host = urlsplit(url).netloc
        self._respect_window(url, host)
        gate = self.gates.get(gate_name) if gate_name else None
        try:
            if gate is None:
                response = self._client.get(url, headers=headers)
            else:
                with gate.slot():
                    response = self._client.get(url, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            # A body cut short (Content-Length not reached) lands here too: RemoteProtocolError.
            raise _Retryable(f"network error: {type(exc).__name__}: {exc}") from exc
        self._note_window(host, response)
        status = response.status_code
        if status == 304:
            return Response(
                url,
                304,
                b"",
                response.headers.get("ETag") or None,
                response.headers.get("Last-Modified") or None,
            )
        if status == 429 or status >= 500:
            retry_after = _retry_after(response)
            if retry_after is not None and retry_after > self.max_wait:
                raise FetchError(
                    f"{url}: HTTP {status}, asked to wait {retry_after:.0f} s, more than "
                    f"PAPERBOY_HTTP_MAX_WAIT_SECONDS ({self.max_wait:.0f}); the next ingest tries again"
                )
            raise _Retryable(f"HTTP {status} {response.reason_phrase}".rstrip(), retry_after)
        if status >= 400:
            raise FetchError(
                f"{url}: HTTP {status} {response.reason_phrase}: {_snippet(response.content)}"
            )
        return Response(
            url,
            status,
            response.content,
            response.headers.get("ETag") or None,
            response.headers.get("Last-Modified") or None,
        )

    def _respect_window(self, url: str, host: str) -> None:
        """Wait until a rate-limit window the server announced as exhausted reopens."""
        not_before = self._not_before.get(host)
        if not_before is None:
            return
        wait = not_before - self.clock()
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise FetchError(
                f"{url}: rate limit exhausted for {wait:.0f} s, more than PAPERBOY_HTTP_MAX_WAIT_SECONDS "
                f"({self.max_wait:.0f}); the next ingest tries again"
            )
        log.info("http_rate_limit_wait", host=host, seconds=round(wait, 1))
        self.sleep(wait)

    def _note_window(self, host: str, response: httpx.Response) -> None:
        reset = _ratelimit_reset(response.headers)
        if reset is not None:
            self._not_before[host] = self.clock() + reset
        else:
            self._not_before.pop(host, None)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        backoff = self.backoff * 2 ** (state.attempt_number - 1)
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
        return backoff

    def _log_retry(self, url: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "http_retry",
            url=url,
            attempt=state.attempt_number,
            wait=round(wait, 1),
            reason=str(exc),
        )


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait: Retry-After (seconds or HTTP date), else RateLimit's t."""
    value = response.headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            base = _response_date(response) or dt.datetime.now(dt.UTC)
            return max((when - base).total_seconds(), 0.0)
    return _ratelimit_reset(response.headers, only_if_exhausted=False)


def _ratelimit_reset(headers: httpx.Headers, *, only_if_exhausted: bool = True) -> float | None:
    """Seconds until the rate-limit window resets, if the server says it is used up."""
    combined = headers.get("RateLimit")
    if combined:
        remaining = _RATELIMIT_R.search(combined)
        reset = _RATELIMIT_T.search(combined)
        if reset and (not only_if_exhausted or (remaining and int(remaining[1]) == 0)):
            return float(reset[1])
        return None
    remaining_text, reset_text = headers.get("RateLimit-Remaining"), headers.get("RateLimit-Reset")
    if reset_text and reset_text.strip().isdigit():
        if not only_if_exhausted or (remaining_text or "").strip() == "0":
            return float(reset_text)
    return None


def _response_date(response: httpx.Response) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", errors="replace")
    return " ".join(text.split()) or "(empty body)"
