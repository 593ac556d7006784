"""Carry planned deliveries through the outbox: pending → sending → sent | deferred | failed |
in_doubt (went out, no reply to its end: never resent).

``send_deliveries`` claims each row under a lease just before its message is built, sends it
through the SMTP pool and records the server's reply in the row (a bounce also in the
subscriber); a row becomes ``sent`` only after the server accepted it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service import logs
from service.delivery.bounces import BounceEvent, apply_events, classify_refusal
from service.delivery.mailer import Mailer
from service.delivery.run import Outcome, Pipeline, Progress, SendReport
from service.delivery.selection import (
    day_facts,
    make_digest,
    stored_papers,
)
from service.delivery.smtp_pool import Job, Result, SmtpPool
from service.digest.message import build_message
from service.errors import PaperboyError, StoreWriteError
from service.settings import Settings
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)


def _run_clock(now: dt.datetime) -> Callable[[], dt.datetime]:
    """``now`` moving forward with the monotonic clock: leases and retry times of a long run
    count from when each message is handled, while a test's fixed ``now`` stays exact."""
    start = time.monotonic()
    return lambda: now + dt.timedelta(seconds=max(0.0, time.monotonic() - start))


def send_deliveries(
    pipeline: Pipeline,
    *,
    mailer: Mailer | None,
    delivery_ids: Sequence[int],
    now: dt.datetime,
    report: SendReport | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> SendReport:
    """Send these delivery rows (a batch: a run's ready rows, or a worker's share of them).

    Each row is claimed under a lease just before its message is built and sent, and recorded as
    soon as the server replied, in the pool worker's thread: at most one message per connection
    is ever between the server's 250 and our commit. Rows that are finished, claimed elsewhere,
    not yet due for retry, or whose subscriber is no longer active are skipped. Rows the run did
    not reach (the per-run cap, or the circuit breaker opened) stay open for the next run.
    """
    settings = pipeline.settings
    report = report if report is not None else SendReport()
    if mailer is None:
        raise PaperboyError("a mailer is required to send (only a dry run needs none)")
    pool = (
        mailer
        if isinstance(mailer, SmtpPool)
        else SmtpPool.around(mailer, breaker_threshold=settings.breaker_threshold)
    )
    clock = _run_clock(now)
    lock = threading.Lock()
    total = len(delivery_ids)
    handled = 0

    def add(outcome: Outcome) -> None:
        nonlocal handled
        with lock:
            report.add(outcome)
            handled += 1
            done = handled
        if progress is not None:
            progress(done, total)

    reached = 0

    def jobs() -> Iterator[Job]:
        nonlocal reached
        for delivery_id in delivery_ids:
            if stop is not None and stop.is_set():
                log.info("send_stopping", reason="shutdown", left=total - reached)
                return  # shutting down: messages in flight finish, the rest stay open
            reached += 1
            try:
                prepared = _claim_and_build(pipeline, delivery_id, clock())
            except SQLAlchemyError as exc:  # the database refuses: stop before sending more
                raise StoreWriteError(
                    f"cannot claim delivery {delivery_id} in the database: {_brief(exc)}"
                ) from exc
            except Exception as exc:  # one row's bad data must not stop the run
                log.exception("delivery_claim_failed", delivery_id=delivery_id)
                prepared = Outcome(str(delivery_id), "failed", f"internal error: {exc}")
            if isinstance(prepared, Outcome):
                add(prepared)
            else:
                yield prepared

    def on_result(result: Result) -> None:
        try:
            outcome = _record(pipeline, result, clock())
        except SQLAlchemyError as exc:  # raised to the pool, which stops handing out messages
            raise StoreWriteError(
                f"cannot record delivery {result.job.key[0]} as {result.status} in the database: {_brief(exc)}"
            ) from exc
        add(outcome)

    run = pool.run(jobs(), on_result, limit=settings.send_max_per_run)
    with lock:
        report.left += total - reached  # never pulled; released ones were counted as they came
        if run.paused:
            report.paused = run.paused
        if run.aborted:
            report.aborted = run.aborted
    if run.capped and report.left:
        log.warning("send_capped", cap=settings.send_max_per_run, left=report.left)
    return report


def _claim_and_build(pipeline: Pipeline, delivery_id: int, now: dt.datetime) -> Job | Outcome:
    """Claim the row under a lease and build its message; an Outcome when there is nothing to send."""
    settings = pipeline.settings
    with session_scope(pipeline.factory) as session:
        delivery = store.get_delivery_by_id(session, delivery_id=delivery_id)
        if delivery is None:
            return Outcome(f"delivery {delivery_id}", "skipped", "no such delivery")
        subscriber = store.get_subscriber_by_id(session, subscriber_id=delivery.subscriber_id)
        email = (
            subscriber.email if subscriber is not None else f"subscriber {delivery.subscriber_id}"
        )
        lease_until = now + dt.timedelta(seconds=settings.lease_seconds)
        if subscriber is None or not store.claim_delivery(
            session, delivery_id=delivery_id, now=now, lease_until=lease_until
        ):
            return Outcome(
                email, "skipped", "claimed by another run, retry not due, or no longer active"
            )
        date = delivery.digest_date
        papers = stored_papers(session, delivery_id)
        facts = day_facts(session, settings, subscriber, date, papers, now)
    try:
        digest = make_digest(pipeline, subscriber, date, papers, facts=facts)
        message = build_message(
            pipeline.renderer.render(digest), to=subscriber.email, from_addr=settings.from_address,
            base_url=settings.base_url, unsubscribe_url=digest.links.unsubscribe,
            list_id=f"digest.{settings.list_domain}", reply_to=settings.reply_to, date=now,
            unsubscribe_mailto=settings.list_unsubscribe_mailto,
            message_key=pipeline.signer.opaque_id("message-id", delivery_id),
        )  # fmt: skip
    except Exception as exc:  # rendering or building failed: keep the row, say why
        log.exception("delivery_build_failed", delivery_id=delivery_id)
        error = f"could not build the message: {exc}"
        with session_scope(pipeline.factory) as session:
            store.finish_delivery(
                session, delivery_id=delivery_id, status="failed", now=now, error=error
            )
        return Outcome(subscriber.email, "failed", error, len(papers))
    return Job(
        key=(delivery_id, subscriber.id, date, len(papers)), message=message, email=subscriber.email
    )


def _record(pipeline: Pipeline, result: Result, now: dt.datetime) -> Outcome:
    """Write a send's outcome to its delivery row (and, on a bounce, to the subscriber)."""
    settings = pipeline.settings
    delivery_id, subscriber_id, date, paper_count = result.job.key
    status, error = result.status, (str(result.error) if result.error is not None else None)
    next_attempt = None
    with session_scope(pipeline.factory) as session:
        if status == "released":
            # The breaker opened before this one went out: back in the queue, attempt not counted.
            store.release_delivery(session, delivery_id=delivery_id, now=now)
            return Outcome(
                result.job.email, "left", "not sent: the run was paused by the circuit breaker"
            )
        if status == "in_doubt":
            # The message went out and no reply to its end came: the server may have accepted
            # it, so it is never sent again automatically (exactly once, unless it was lost).
            log.error("delivery", id=delivery_id, status="in_doubt", error=error)
        if status == "deferred":
            attempts = store.delivery_attempts(session, delivery_id=delivery_id)
            if attempts >= settings.retry_max_attempts:
                status = "failed"
                error = f"gave up after {attempts} attempts: {error}"
            else:
                next_attempt = now + dt.timedelta(
                    seconds=settings.retry_base_seconds * 2 ** (attempts - 1)
                )
        store.finish_delivery(
            session, delivery_id=delivery_id, status=status, now=now,
            message_id=result.job.message["Message-ID"] if status == "sent" else None,
            error=error, next_attempt_at=next_attempt,
        )  # fmt: skip
        if status == "sent":
            store.clear_soft_bounces(session, subscriber_id=subscriber_id)
        elif status == "failed" and result.error is not None:
            _bounce(session, settings, result)
    log.info("delivery", id=delivery_id, status=status, papers=paper_count, error=error)
    return Outcome(result.job.email, status, error or f"digest for {date}", paper_count)


def _bounce(session: Session, settings: Settings, result: Result) -> None:
    """A failed send that says the address is bad suppresses it (hard) or counts (soft)."""
    error = result.error
    kind = classify_refusal(error)
    if (
        kind is None
        and result.status == "deferred"
        and error is not None
        and error.stage in ("rcpt", "data")
    ):
        kind = "soft"  # retried to the limit and the recipient's server still would not take it
    if kind is None:
        return
    event = BounceEvent(result.job.email, "bounce", kind == "hard", f"SMTP: {error}")
    counts = apply_events(session, events=[event], soft_limit=settings.soft_bounce_limit)
    if counts["bounced"]:
        log.warning(
            "subscriber_suppressed", status="bounced", hard=kind == "hard", reason=str(error)
        )


def _brief(exc: BaseException) -> str:
    """The driver's own one-line message (SQLAlchemy's text adds the SQL and a link)."""
    return (str(getattr(exc, "orig", None) or exc) or type(exc).__name__).splitlines()[0]
