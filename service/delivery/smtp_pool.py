"""Send a batch of messages over a few reused SMTP connections, in parallel, politely.

`SmtpPool.run(jobs, on_result)` pulls jobs lazily from an iterable (the caller claims and builds
each message as it is pulled, so nothing waits long under a claim), sends each on one of `size`
connections (each a `Mailer` from `connect`, opened lazily, reused, with RSET only after a
transaction the server did not finish, reopened after a 421 or a drop), and hands every outcome to `on_result` in the worker's thread,
before that worker takes its next job. So at any moment at most `size` messages are between the
server's reply and the caller's record of it: the in-flight bound a crash can duplicate.

What happens to a message is decided by the SMTP reply code (the Mailer's SendError subclass):
4xx, timeouts and drops → "deferred"; 5xx → "failed"; no reply to the end of a message that went
out → "in_doubt" (never resent). A burst of authentication or policy refusals (enhanced status
5.7.x, or 530/534/535), or of timeouts (a hung relay), opens a circuit breaker: the run stops
pulling jobs, and a job pulled but not yet sent is handed back as "released" (the caller returns
it to its queue, not failed). If `on_result` raises (the caller could not record an outcome), the
run stops at once: no worker takes another job, so no more messages go out unrecorded. A global rate limit (messages per second across connections) and a cap
on the messages a run attempts keep a large list from flooding a relay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from service import logs
from service.delivery.mailer import Mailer
from service.delivery.rate_limit import RateLimiter
from service.errors import InDoubtSendError, PermanentSendError, SendError, TransientSendError

log = logs.get_logger(__name__)

AUTH_CODES = frozenset({530, 534, 535, 538})  # RFC 4954: authentication required / failed


def is_policy_refusal(error: SendError | None) -> bool:
    """True for an authentication or policy refusal: enhanced status 5.7.x or an AUTH code.

    These say the sender is not allowed (bad credentials, SPF/DKIM/DMARC, a blocklist), not that
    the recipient is wrong: a burst of them means every further message will fail the same way.
    """
    if error is None:
        return False
    return bool(error.status and error.status.startswith("5.7.")) or error.code in AUTH_CODES


@dataclass(slots=True)
class Job:
    """One message to send; `key` is the caller's id for it (a delivery id)."""

    key: Any
    message: EmailMessage
    email: str = ""


@dataclass(slots=True)
class Result:
    """What became of a job: "sent", "deferred", "failed", "in_doubt" (went out, no reply to
    its end: maybe delivered), or "released" (never tried)."""

    job: Job
    status: str
    error: SendError | None = None


@dataclass(slots=True)
class PoolRun:
    """Counts of one run, and why it stopped early if it did."""

    attempted: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    in_doubt: int = 0
    released: int = 0
    capped: bool = False  # stopped at the per-run cap (jobs may be left)
    paused: str | None = None  # the circuit breaker's reason, when it opened
    aborted: str | None = None  # why the run stopped at once (an outcome could not be recorded)


def is_timeout(error: SendError | None) -> bool:
    """True when the server stopped answering (a hung relay), whatever the stage."""
    return error is not None and error.timed_out


class Breaker:
    """Opens after `threshold` policy refusals, or timeouts, in a row; any other outcome closes
    the count (a refusal and a timeout both count towards the same streak)."""

    def __init__(self, threshold: int) -> None:
        if threshold < 1:
            raise ValueError("breaker threshold must be at least 1")
        self.threshold = threshold
        self.streak = 0
        self.reason: str | None = None

    @property
    def open(self) -> bool:
        return self.reason is not None

    def record(self, result: Result) -> bool:
        """Count one outcome; True exactly when this outcome opened the breaker."""
        if result.status == "released":
            return False
        if not (is_policy_refusal(result.error) or is_timeout(result.error)):
            self.streak = 0
            return False
        self.streak += 1
        if self.reason is None and self.streak >= self.threshold:
            what = "timeouts" if is_timeout(result.error) else "authentication/policy refusals"
            self.reason = f"{self.streak} {what} in a row; last: {result.error}"
            return True
        return False


class SmtpPool(Mailer):
    """`size` reused connections made by `connect`; also a Mailer sending one message at a time."""

    def __init__(
        self,
        connect: Callable[[], Mailer],
        *,
        size: int = 1,
        rate: float = 0.0,
        breaker_threshold: int = 5,
        name: str = "smtp",
    ) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self.connect = connect
        self.size = size
        self.rate = rate
        self.breaker_threshold = breaker_threshold
        self.name = name
        self._idle: list[Mailer] = []
        self._idle_lock = threading.Lock()
        self.connections_made = 0

    @classmethod
    def around(cls, mailer: Mailer, *, breaker_threshold: int = 5) -> SmtpPool:
        """A pool of one connection: the given mailer (closed with the pool)."""
        pool = cls(lambda: mailer, size=1, breaker_threshold=breaker_threshold)
        return pool

    def __repr__(self) -> str:
        return f"SmtpPool({self.name!r}, size={self.size}, rate={self.rate:g})"

    # -- connections

    def _checkout(self) -> Mailer:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
            self.connections_made += 1
        return self.connect()

    def _checkin(self, mailer: Mailer) -> None:
        with self._idle_lock:
            self._idle.append(mailer)

    def close(self) -> None:
        """Close every idle connection (QUIT politely); never raises."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for mailer in idle:
            try:
                mailer.close()
            except Exception:  # closing is best effort
                log.debug("pool.close_failed", exc_info=True)

    # -- sending

    @staticmethod
    def _send_on(mailer: Mailer, job: Job) -> Result:
        rset = getattr(mailer, "rset", None)
        if rset is not None and getattr(mailer, "connected", False):
            rset()  # after an unfinished transaction only: the next starts clean
        try:
            mailer.send(job.message)
        except InDoubtSendError as exc:
            return Result(job, "in_doubt", exc)
        except TransientSendError as exc:
            return Result(job, "deferred", exc)
        except PermanentSendError as exc:
            return Result(job, "failed", exc)
        except Exception as exc:  # a message the mailer cannot take at all (no To:, ...)
            log.exception("pool.send_error", key=job.key)
            return Result(
                job, "failed", PermanentSendError(f"cannot send: {type(exc).__name__}: {exc}")
            )
        return Result(job, "sent")

    def send(self, msg: EmailMessage) -> None:
        """Mailer protocol: send one message on a pooled connection; raises SendError."""
        mailer = self._checkout()
        try:
            result = self._send_on(mailer, Job(key=None, message=msg))
        finally:
            self._checkin(mailer)
        if result.error is not None:
            raise result.error

    def run(
        self,
        jobs: Iterable[Job],
        on_result: Callable[[Result], None],
        *,
        limit: int = 0,
        breaker: Breaker | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> PoolRun:
        """Send every job (at most `limit` when > 0), calling `on_result` once per job pulled.

        Jobs are pulled one at a time under a lock, so the iterable may claim and build lazily
        (and need not be thread-safe): it should be cheap, since the lock is held while it is
        pulled (a caller builds its messages outside the pool: delivery/builder.py). ``breaker``: one kept
        across the runs of a caller that sends in batches. ``ready()``: whether the next job is
        already there to take; with it, another sender starts only when one is (the senders, not
        the jobs' maker, hold the run up). Returns when all workers are done.
        """
        state = _RunState(
            iter(jobs), limit, breaker or Breaker(self.breaker_threshold), RateLimiter(self.rate)
        )
        state.ready = ready
        workers = min(self.size, limit) if limit else self.size
        state.room = workers - 1  # the caller's thread is the first worker
        self._worker(state, on_result)
        for thread in state.joinable():
            thread.join()
        run = state.run
        run.paused = state.breaker.reason
        run.aborted = state.aborted
        if run.paused:
            log.error("send_paused", breaker="open", reason=run.paused)
        log.info(
            "pool.run",
            connections=state.started,
            attempted=run.attempted,
            sent=run.sent,
            deferred=run.deferred,
            failed=run.failed,
            in_doubt=run.in_doubt,
            released=run.released,
            capped=run.capped,
            paused=run.paused is not None,
            aborted=run.aborted is not None,
        )
        return run

    def _worker(self, state: _RunState, on_result: Callable[[Result], None]) -> None:
        mailer: Mailer | None = None
        try:
            while (job := state.next_job()) is not None:
                if state.grow():  # nobody else is waiting for the next message: one more sender
                    thread = threading.Thread(
                        target=self._worker,
                        args=(state, on_result),
                        name=f"{self.name}-{state.started}",
                    )
                    state.threads.append(thread)
                    thread.start()
                state.limiter.wait()
                if state.breaker.open or state.aborted:  # stopped while this job waited
                    result = Result(job, "released")
                else:
                    if mailer is None:
                        mailer = self._checkout()
                    result = self._send_on(mailer, job)
                state.record(result)
                try:
                    on_result(result)
                except Exception as exc:
                    # The outcome could not be recorded: hand no further message to SMTP (the
                    # unrecorded one is resent after its lease, within the in-flight bound).
                    log.debug(
                        "pool.on_result_failed", key=job.key, status=result.status, exc_info=True
                    )
                    state.abort(_brief(exc))
                    return
        finally:
            if mailer is not None:
                self._checkin(mailer)


def _brief(exc: BaseException) -> str:
    """One line for an exception (SQLAlchemy's own text spans several, with the SQL)."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


class _RunState:
    def __init__(
        self, jobs: Iterator[Job], limit: int, breaker: Breaker, limiter: RateLimiter
    ) -> None:
        self.jobs = jobs
        self.limit = limit
        self.breaker = breaker
        self.limiter = limiter
        self.run = PoolRun()
        self.lock = threading.Lock()
        self.done = False
        self.aborted: str | None = None
        # Senders are started as the relay needs them, up to ``room`` more: a new one only when
        # a sender takes a message while no other is waiting for the next (and, given ``ready``,
        # the next is already made). A relay that answers at once keeps one busy; a slow one
        # gets the pool's size. (Starting them all per batch
        # cost ~15 % of a worker's CPU: thread starts, and idle threads queueing on ``lock``.)
        self.room = 0
        self.started = 1
        self.threads: list[threading.Thread] = []
        self._waiting = 0
        self._count = threading.Lock()
        self.ready: Callable[[], bool] | None = None

    def grow(self) -> bool:
        """True when the caller should start one more sender (and it is counted as started)."""
        with self._count:
            if self._waiting or not self.room or self.done:
                return False
            if self.ready is not None and not self.ready():
                return False  # the senders wait for the jobs: another would wait too
            self.room -= 1
            self.started += 1
            return True

    def joinable(self) -> Iterator[threading.Thread]:
        """The senders started so far, then any they started meanwhile (call from the caller's
        thread once its own sender is done; every sender starts others only while it runs)."""
        index = 0
        while True:
            with self._count:
                if index >= len(self.threads):
                    return
                thread = self.threads[index]
            index += 1
            yield thread

    def abort(self, reason: str) -> None:
        """Stop the run at once; the first reason is kept and logged (one line, no traceback)."""
        with self.lock:
            self.done = True
            if self.aborted is not None:
                return
            self.aborted = reason
        log.error("send_aborted", reason=reason)

    def next_job(self) -> Job | None:
        with self._count:
            self._waiting += 1
        try:
            return self._next_job()
        finally:
            with self._count:
                self._waiting -= 1

    def _next_job(self) -> Job | None:
        with self.lock:
            if self.done or self.breaker.open:
                return None
            if self.limit and self.run.attempted >= self.limit:
                self.done = True
                self.run.capped = True
                return None
            try:
                job = next(self.jobs)
            except StopIteration:
                self.done = True
                return None
            except Exception as exc:  # the job source broke: stop the run rather than spin
                self.done = True
                broke = exc
            else:
                self.run.attempted += 1
                return job
        log.debug("pool.jobs_failed", exc_info=broke)
        self.abort(_brief(broke))
        return None

    def record(self, result: Result) -> None:
        with self.lock:
            setattr(self.run, result.status, getattr(self.run, result.status) + 1)
            if result.status == "released":
                self.run.attempted -= 1
            if self.breaker.record(result):
                log.error("breaker_open", reason=self.breaker.reason)
