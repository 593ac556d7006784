"""Outcomes of a sender's messages, written in batches: the pool's threads only hand results
over (a list append), and one transaction writes many of them: when the caller flushes (always
before it claims its next batch) or every ``every`` seconds while a batch is still sending.

A result is counted in the report only once it is written. A write the database refuses is kept
as ``failed``: the next result handed over raises it, so the pool stops at once and no further
message goes out unrecorded (the unwritten ones stay ``sending`` under their lease).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service import logs
from service.delivery.bounces import BounceEvent, apply_events, classify_refusal
from service.delivery.run import Outcome, Pipeline
from service.delivery.smtp_pool import Result
from service.digest.message import message_id
from service.errors import SendError, StoreWriteError
from service.settings import Settings
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)


@dataclass(slots=True)
class Prepared:
    """A claimed delivery on its way: what a Job's key carries."""

    claim: store.Claimed
    email: str
    papers: int


@dataclass(slots=True)
class Entry:
    """One outcome waiting to be written."""

    prepared: Prepared
    status: str  # sent, deferred, failed, in_doubt, released
    error: SendError | None = None
    detail: str | None = None  # the error's text when there is no SendError (a build failure)
    message_id: str | None = None


class Recorder:
    def __init__(
        self,
        pipeline: Pipeline,
        clock: Callable[[], dt.datetime],
        on_outcome: Callable[[Outcome], None],
        *,
        every: float,
    ) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.on_outcome = on_outcome
        self.every = every
        self.failed: StoreWriteError | None = None
        self._pending: list[Entry] = []
        self._lock = threading.Lock()  # guards the list only: held for an append or a swap
        self._writing = threading.Lock()  # one write at a time (the flusher and the caller)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # -- handing over

    def add(self, result: Result) -> None:
        """The pool's ``on_result``: keep the outcome for the next write; raises once a write
        failed (the pool then stops handing out messages)."""
        if self.failed is not None:
            raise self.failed
        prepared: Prepared = result.job.key
        # The stored value: indexing the message would run the header parser for it.
        sent_id = message_id(result.job.message) if result.status == "sent" else None
        with self._lock:
            self._pending.append(Entry(prepared, result.status, result.error, None, sent_id))

    def extend(self, entries: Sequence[Entry]) -> None:
        with self._lock:
            self._pending.extend(entries)

    # -- writing

    def __enter__(self) -> Recorder:
        self._thread = threading.Thread(target=self._tick, name="outbox-recorder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _tick(self) -> None:
        while not self._done.wait(self.every):
            try:
                self.flush()
            except StoreWriteError:
                return  # kept in self.failed: the next handed-over result stops the pool

    def flush(self) -> None:
        """Write every outcome handed over so far, in one transaction; raises StoreWriteError."""
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
            outcomes: list[Outcome] = []
            if batch:
                try:
                    outcomes = self._write(batch)
                except SQLAlchemyError as exc:
                    first = batch[0]
                    self.failed = StoreWriteError(
                        f"cannot record delivery {first.prepared.claim.delivery_id} as "
                        f"{first.status} (and {len(batch) - 1} more) in the database: {_brief(exc)}"
                    )
                    raise self.failed from exc
        for outcome in outcomes:
            self.on_outcome(outcome)
        if self.failed is not None:
            # An earlier write (perhaps the flusher's, after the batch's last result) lost its
            # outcomes: these are written, but the caller must stop before claiming more.
            raise self.failed

    def _write(self, batch: list[Entry]) -> list[Outcome]:
        settings = self.pipeline.settings
        now = self.clock()
        finished: list[store.Finished] = []
        outcomes: list[Outcome] = []
        bounces: list[Entry] = []
        for entry in batch:
            claim, status = entry.prepared.claim, entry.status
            error = entry.detail or (str(entry.error) if entry.error is not None else None)
            next_attempt = None
            if status == "released":
                # The breaker opened, or the run stopped, before it went out: back in the queue.
                finished.append(store.Finished(claim.delivery_id, claim.subscriber_id, status))
                outcomes.append(
                    Outcome(entry.prepared.email, "left", "not sent: the run was paused or stopped")
                )
                continue
            if status == "in_doubt":
                # Went out and no reply to its end came: maybe accepted, so never sent again.
                log.error("delivery", id=claim.delivery_id, status="in_doubt", error=error)
            if status == "deferred":
                if claim.attempts >= settings.retry_max_attempts:
                    status = "failed"
                    error = f"gave up after {claim.attempts} attempts: {error}"
                else:
                    next_attempt = now + dt.timedelta(
                        seconds=settings.retry_base_seconds * 2 ** (claim.attempts - 1)
                    )
            if status == "failed" and entry.error is not None:
                bounces.append(entry)
            finished.append(
                store.Finished(claim.delivery_id, claim.subscriber_id, status, error,
                               entry.message_id, next_attempt)
            )  # fmt: skip
            log.info("delivery", id=claim.delivery_id, status=status, papers=entry.prepared.papers,
                     error=error)  # fmt: skip
            outcomes.append(
                Outcome(entry.prepared.email, status, error or f"digest for {claim.digest_date}",
                        entry.prepared.papers)
            )  # fmt: skip
        with session_scope(self.pipeline.factory) as session:
            store.finish_deliveries(session, outcomes=finished, now=now)
            for entry in bounces:
                _bounce(session, settings, entry)
        return outcomes


def _bounce(session: Session, settings: Settings, entry: Entry) -> None:
    """A failed send that says the address is bad suppresses it (hard) or counts (soft)."""
    error = entry.error
    kind = classify_refusal(error)
    if kind is None and entry.status == "deferred" and error is not None:
        if error.stage in ("rcpt", "data"):
            kind = "soft"  # retried to the limit and the recipient's server still refused it
    if kind is None:
        return
    event = BounceEvent(entry.prepared.email, "bounce", kind == "hard", f"SMTP: {error}")
    counts = apply_events(session, events=[event], soft_limit=settings.soft_bounce_limit)
    if counts["bounced"]:
        log.warning(
            "subscriber_suppressed", status="bounced", hard=kind == "hard", reason=str(error)
        )


def _brief(exc: BaseException) -> str:
    """The driver's own one-line message (SQLAlchemy's text adds the SQL and a link)."""
    return (str(getattr(exc, "orig", None) or exc) or type(exc).__name__).splitlines()[0]
