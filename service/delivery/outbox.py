"""Carry planned deliveries through the outbox: pending → sending → sent | deferred | failed |
in_doubt (went out, no reply to its end: never resent).

``send_deliveries`` works a batch at a time (``PAPERBOY_SEND_CLAIM_BATCH``): it claims the batch's
rows under a lease in one statement, loads their subscribers, items and papers in a few queries,
builds the messages in a builder thread a few ahead of the senders (delivery/builder.py; outside
any lock), sends them through the SMTP pool and records the
outcomes in one transaction per batch (or every ``PAPERBOY_SEND_RECORD_SECONDS`` while it is still
sending): service/delivery/recorder.py. Every outcome of a batch is written before the next batch
is claimed, so a crash leaves at most one batch sent but unrecorded: its rows stay ``sending``
until the lease runs out. A row becomes ``sent`` only after the server accepted it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from service import logs
from service.delivery.builder import Builder
from service.delivery.mailer import Mailer
from service.delivery.recorder import Entry, Prepared, Recorder
from service.delivery.run import Outcome, Pipeline, Progress, SendReport
from service.delivery.selection import day_facts, make_digest
from service.delivery.smtp_pool import Breaker, Job, SmtpPool
from service.digest.message import build_message
from service.errors import PaperboyError, StoreWriteError
from service.records import Reason, ScoredPaper
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
    """Send these delivery rows (a run's ready rows, or a worker's share of them), a batch at a time.

    Rows that are finished, claimed elsewhere, not yet due for retry, or whose subscriber is no
    longer active are skipped. Rows the run did not reach (the per-run cap, the circuit breaker
    opened, a stop) stay open for the next run; claimed ones not yet sent are released.
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
    ids = list(delivery_ids)
    total = len(ids)
    handled = 0

    def add(outcome: Outcome) -> None:
        nonlocal handled
        with lock:
            report.add(outcome)
            handled += 1
            done = handled
        if progress is not None:
            progress(done, total)

    breaker = Breaker(pool.breaker_threshold)
    cap = settings.send_max_per_run
    attempted = 0
    reached = 0
    with Recorder(pipeline, clock, add, every=settings.send_record_seconds) as recorder:
        while reached < total and not (stop is not None and stop.is_set()):
            size = settings.send_claim_batch
            if cap:
                if attempted >= cap:
                    log.warning("send_capped", cap=cap, left=total - reached)
                    break
                size = min(size, cap - attempted)
            chunk = ids[reached : reached + size]
            try:
                prepared, skipped = _claim_and_load(pipeline, chunk, clock())
            except SQLAlchemyError as exc:  # the database refuses: stop before sending more
                report.aborted = f"cannot claim deliveries in the database: {_brief(exc)}"
                log.error("send_aborted", reason=report.aborted)
                break
            reached += len(chunk)
            for outcome in skipped:
                add(outcome)
            when = clock()
            builder = Builder(
                prepared, lambda row, when=when: _build(pipeline, row, when), _row_label
            )

            def source(builder: Builder[_Row] = builder) -> Iterator[Job]:
                built = builder.jobs()
                # Shutting down: messages in flight finish, the rest is released.
                while not (stop is not None and stop.is_set()):
                    job = next(built, None)
                    if job is None:
                        return
                    yield job

            with builder:
                run = pool.run(source(), recorder.add, breaker=breaker, ready=builder.ready)
            attempted += run.attempted
            recorder.extend(
                [Entry(_row_key(row), "failed", detail=f"could not build the message: {exc}")
                 for row, exc in builder.failed]
                + [Entry(_row_key(row), "released") for row in builder.unsent]
            )  # fmt: skip
            try:
                recorder.flush()  # every outcome written before anything else is claimed
            except StoreWriteError as exc:
                report.aborted = report.aborted or str(exc)
            if run.aborted and not report.aborted:
                report.aborted = run.aborted
            if run.paused:
                report.paused = run.paused
            if report.aborted or report.paused:
                break
        if stop is not None and stop.is_set() and reached < total:
            log.info("send_stopping", reason="shutdown", left=total - reached)
    with lock:
        report.left += total - reached  # never claimed; released ones were counted as they came
    return report


_Row = tuple[store.Claimed, Any, list[ScoredPaper], Any]  # claim, subscriber, picks, day facts


def _row_label(row: _Row) -> str:
    return f"delivery {row[0].delivery_id}"


def _row_key(row: _Row) -> Prepared:
    claim, subscriber, chosen, _ = row
    return Prepared(claim, subscriber.email, len(chosen))


def _claim_and_load(
    pipeline: Pipeline, delivery_ids: Sequence[int], now: dt.datetime
) -> tuple[list[_Row], list[Outcome]]:
    """Claim what is claimable of these rows in one statement and load what their messages
    need in a few queries: the rows to build, and the outcomes of the rows skipped."""
    settings = pipeline.settings
    lease_until = now + dt.timedelta(seconds=settings.lease_seconds)
    skipped: list[Outcome] = []
    with session_scope(pipeline.factory) as session:  # one transaction: claim, then read
        claims = store.claim_deliveries(session, ids=delivery_ids, now=now, lease_until=lease_until)
        won = {claim.delivery_id for claim in claims}
        lost = [did for did in delivery_ids if did not in won]
        if lost:
            emails = store.emails_of_deliveries(session, ids=lost)
            skipped = [
                Outcome(emails.get(did, f"delivery {did}"), "skipped",
                        "claimed by another run, retry not due, or no longer active")
                for did in lost
            ]  # fmt: skip
        if not claims:
            return [], skipped
        subscriber_ids = [claim.subscriber_id for claim in claims]
        subscribers = store.subscribers_by_id(session, ids=subscriber_ids)
        items = store.items_of_deliveries(session, ids=sorted(won))
        papers = store.papers_by_id(
            session, ids={i.paper_id for rows in items.values() for i in rows}
        )
        last_dates = store.last_digest_dates(session, subscriber_ids=subscriber_ids)
        interests = store.interest_ids_of(session, subscriber_ids=subscriber_ids)
        prepared: list[_Row] = []
        for claim in claims:
            subscriber = subscribers[claim.subscriber_id]
            chosen = [
                ScoredPaper(papers[i.paper_id], i.score, _reasons(i.reasons), i.interest)
                for i in items[claim.delivery_id]
                if i.paper_id in papers
            ]
            facts = day_facts(session, settings, subscriber, claim.digest_date, chosen, now,
                              last_date=last_dates.get(claim.subscriber_id),
                              interest_ids=interests.get(claim.subscriber_id, {}))  # fmt: skip
            prepared.append((claim, subscriber, chosen, facts))
    return prepared, skipped


@lru_cache(maxsize=16384)
def _reasons(labels: tuple[str, ...]) -> tuple[Reason, ...]:
    """A stored item's reason labels as Reasons, one tuple per distinct list: the digest's
    caches keyed by reasons (the labels shown, the words highlighted) then find it at once."""
    return tuple(Reason(label) for label in labels)


def _build(pipeline: Pipeline, row: _Row, now: dt.datetime) -> Job:
    """The message of one claimed row (in the builder's thread; raises when it cannot be built)."""
    settings = pipeline.settings
    claim, subscriber, chosen, facts = row
    digest = make_digest(pipeline, subscriber, claim.digest_date, chosen, facts=facts)
    message = build_message(
        pipeline.renderer.render(digest), to=subscriber.email, from_addr=settings.from_address,
        base_url=settings.base_url, unsubscribe_url=digest.links.unsubscribe,
        list_id=f"digest.{settings.list_domain}", reply_to=settings.reply_to, date=now,
        unsubscribe_mailto=settings.list_unsubscribe_mailto,
        message_key=pipeline.signer.opaque_id("message-id", claim.delivery_id),
    )  # fmt: skip
    return Job(key=_row_key(row), message=message, email=subscriber.email)


def _brief(exc: BaseException) -> str:
    """The driver's own one-line message (SQLAlchemy's text adds the SQL and a link)."""
    return (str(getattr(exc, "orig", None) or exc) or type(exc).__name__).splitlines()[0]
