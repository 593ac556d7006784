"""Plan due digests and carry each through the outbox: pending → sending → sent | deferred | failed
| in_doubt (went out, no reply to its end: never resent).

Every digest is a ``deliveries`` row (unique per subscriber and digest date) with its chosen
papers before a byte goes to SMTP, and becomes ``sent`` only after the server accepted it. A rerun
finds the row and neither sends it twice nor drops it: an open row (pending, or deferred whose
retry time has come) is resumed with the same papers, a finished one is skipped.

Planning happens here (``send_due``: in chunks of subscribers, each in a savepoint); the
sending, in ``outbox``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from service import logs
from service.delivery import ranking_inputs
from service.delivery.due import cadence_allows, digest_date_due, due_at, next_look_at
from service.delivery.due_scan import Chunk, due_chunks
from service.delivery.mailer import Mailer
from service.delivery.outbox import send_deliveries
from service.delivery.run import Outcome, Pipeline, Progress, SendReport
from service.delivery.selection import (
    build_index,
    calendar_quiet,
    day_facts,
    make_digest,
    stored_papers,
)
from service.ranking.index import RelevanceIndex
from service.storage import store
from service.storage.engine import session_scope
from service.storage.rows import DeliveryRow, ReadSubscriber

log = logs.get_logger(__name__)


def send_due(
    pipeline: Pipeline,
    *,
    mailer: Mailer | None,
    now: dt.datetime,
    only: str | None = None,
    digest_date: dt.date | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    enqueue: Callable[[Sequence[int]], int] | None = None,
) -> SendReport:
    """Build and deliver every due digest; one subscriber's failure never stops the others.

    With ``enqueue`` (the procrastinate fan-out, service/delivery/queue.py) the ready rows are handed to
    workers in batches instead of being sent here; ``stop`` set (SIGTERM) ends the run after the
    messages in flight.

    First plans: for each due subscriber, the open delivery row is found or created (with its
    papers), or the digest is recorded missed or skipped. Then `send_deliveries` sends the
    ready rows through the pool. ``digest_date`` forces that date for everybody (ignoring the
    delivery hour, keeping the weekly cadence); ``only`` limits the run to one address;
    ``dry_run`` ranks and renders but writes and sends nothing. ``mailer`` may be an SmtpPool
    (parallel) or any Mailer (one connection).
    """
    report = SendReport(dry_run=dry_run)
    started = time.monotonic()
    stale_before = now - dt.timedelta(seconds=pipeline.settings.lease_seconds)
    # Only an ordinary run moves subscribers' next due times (``--date`` and dry runs do not).
    track = not dry_run and digest_date is None
    index: RelevanceIndex | None = None
    ready: list[int] = []
    queue = None if dry_run else enqueue
    queue_every = max(QUEUE_EVERY, pipeline.settings.delivery_batch_size)
    if queue is not None:  # the report then says how many were handed to workers, none included
        report.queued = 0
    planned_count = 0
    made = 0  # delivery rows this run wrote, ready to send
    analyzed = 0  # how many of them there were at the last ANALYZE
    chunks = due_chunks(
        pipeline.factory, now=now, size=PLAN_CHUNK, only=only, everyone=digest_date is not None,
        pending_before=stale_before if enqueue is not None else None,
    )  # fmt: skip
    for chunk in chunks:
        if stop is not None and stop.is_set():
            # Shutting down mid-plan: rows already written stay open, the rest stay due.
            log.info("plan_stopping", reason="shutdown", planned=planned_count)
            break
        if index is None:  # built once, and only when somebody is due
            with session_scope(pipeline.factory) as session:
                index = build_index(pipeline, session, now)
        before = len(ready)
        _plan_chunk(pipeline, chunk, index, now, digest_date, dry_run, report, ready, track)
        planned_count += len(chunk)
        made += len(ready) - before
        if not (dry_run or analyzed) and made >= ANALYZE_AFTER:  # before workers start on them
            _refresh_statistics(pipeline, made)
            analyzed = made
        if queue is not None and len(ready) >= queue_every:
            # Workers start on these while the rest is planned.
            _hand_over(pipeline, queue, ready, now, stale_before, report)
    if not dry_run and made >= ANALYZE_AFTER and made > analyzed:
        _refresh_statistics(pipeline, made)
    planned_at = time.monotonic()
    log.info(
        "plan",
        subscribers=planned_count,
        ready=len(ready),
        queued=report.queued,
        skipped=report.skipped,
        missed=report.missed,
        failed=report.failed,
        seconds=round(planned_at - started, 2),
    )
    if queue is not None:
        _hand_over(pipeline, queue, ready, now, stale_before, report)
    elif ready:
        send_deliveries(
            pipeline,
            mailer=mailer,
            delivery_ids=ready,
            now=now,
            report=report,
            progress=progress,
            stop=stop,
        )
    log.info(
        "send",
        sent=report.sent,
        deferred=report.deferred,
        failed=report.failed,
        skipped=report.skipped,
        missed=report.missed,
        left=report.left,
        queued=report.queued,
        paused=report.paused is not None,
        dry_run=dry_run,
        seconds=round(time.monotonic() - planned_at, 2),
    )
    return report


PLAN_CHUNK = 500  # subscribers planned per transaction
# With a queue, planned rows are handed to workers whenever this many are ready (and the rest at
# the end), so delivery starts seconds into a long plan instead of after it.
QUEUE_EVERY = 5000
# A run that writes this many delivery rows refreshes the planner statistics of the outbox's
# tables when it reaches it (before it first hands rows to the queue's workers: no more than
# QUEUE_EVERY) and again at its end (store.refresh_delivery_statistics).
ANALYZE_AFTER = QUEUE_EVERY
# A digest date still open with no row (skip-empty, or a quiet day before its deadline) is looked
# at again this much later, or by the next tick after an ingest brought papers.
RECHECK = dt.timedelta(hours=1)


def _refresh_statistics(pipeline: Pipeline, made: int) -> None:
    """Refresh the outbox's planner statistics (PostgreSQL) after ``made`` rows were planned.
    A failure is logged, never fatal: autovacuum gets there later."""
    try:
        with session_scope(pipeline.factory) as session:
            if store.refresh_delivery_statistics(session):
                log.info("plan_statistics", deliveries=made)
    except SQLAlchemyError as exc:
        log.warning("plan_statistics_failed", error=str(exc).splitlines()[0])


def _hand_over(
    pipeline: Pipeline,
    enqueue: Callable[[Sequence[int]], int],
    ready: list[int],
    now: dt.datetime,
    stale_before: dt.datetime,
    report: SendReport,
) -> None:
    """Queue the ``ready`` rows that are still this tick's to send (rows still under another
    sender's lease are not, so a tick may queue none of them) and empty ``ready``."""
    to_queue: list[int] = []
    if ready:
        with session_scope(pipeline.factory) as session:
            to_queue = store.deliveries_to_queue(
                session, ids=ready, now=now, stale_before=stale_before
            )
    report.queued = (report.queued or 0) + len(to_queue)
    report.jobs += enqueue(to_queue)
    ready.clear()


def _plan_chunk(
    pipeline: Pipeline,
    due_chunk: Chunk,
    index: RelevanceIndex,
    now: dt.datetime,
    forced_date: dt.date | None,
    dry_run: bool,
    report: SendReport,
    ready: list[int],
    track: bool,
) -> None:
    """Plan a chunk of subscribers in one transaction: their history in a few queries, then each
    subscriber in a savepoint, so one subscriber's bad data rolls back only their own row; with
    ``track``, each one's next due time is stored in the same transaction."""
    chunk = [s for s, _ in due_chunk]
    read_due = {s.id: due for s, due in due_chunk}
    next_due: list[tuple[int, dt.datetime | None, dt.datetime]] = []
    with session_scope(pipeline.factory) as session:
        history = ranking_inputs.histories(session, subscriber_ids=[s.id for s in chunk])
        dates: dict[int, dt.date | None] = {
            s.id: _planned_date(s, now, forced_date, history[s.id][0]) for s in chunk
        }
        existing = store.deliveries_for(
            session, keys=[(sid, d) for sid, d in dates.items() if d is not None]
        )
        new: list[tuple[ReadSubscriber, dt.date, list[tuple[int, float, list[str]]]]] = []
        for subscriber in chunk:
            date = dates[subscriber.id]
            try:
                planned = _plan_one(
                    pipeline, session, subscriber, index, now, forced_date, dry_run, date,
                    existing.get((subscriber.id, date)) if date else None, history[subscriber.id][1],
                )  # fmt: skip
            except Exception as exc:  # one subscriber's bug or bad data must not stop the run
                log.exception("delivery_error", subscriber_id=subscriber.id)
                planned = Outcome(subscriber.email, "failed", f"internal error: {exc}")
            if track and not (isinstance(planned, Outcome) and planned.status == "failed"):
                found = existing.get((subscriber.id, date)) if date else None
                look = _next_look(
                    pipeline, subscriber, now, date, planned, found, history[subscriber.id][0]
                )
                next_due.append((subscriber.id, read_due[subscriber.id], look))
            if isinstance(planned, Outcome):
                report.add(planned)
            elif isinstance(planned, int):
                ready.append(planned)
            else:
                new.append((subscriber, *planned))
        if new:
            _record_new(session, new, now, report, ready)
        store.set_next_due(session, changes=next_due)


def _next_look(
    pipeline: Pipeline,
    subscriber: ReadSubscriber,
    now: dt.datetime,
    date: dt.date | None,
    planned: Outcome | int | tuple[dt.date, list[tuple[int, float, list[str]]]],
    existing: DeliveryRow | None,
    last_digest: dt.date | None,
) -> dt.datetime:
    """The subscriber's next due time after this plan: the next date's delivery moment once
    ``date`` is settled (a row made or found, or given up past its deadline); soon again while
    it is open with no row (skip-empty or a quiet day, before the deadline); else, nothing due
    yet, their next digest's moment by the cadence."""
    rules = {"timezone": subscriber.timezone, "hour": subscriber.delivery_hour}
    if date is not None and isinstance(planned, Outcome) and planned.status == "skipped":
        deadline = due_at(digest_date=date, **rules) + dt.timedelta(
            hours=pipeline.settings.delivery_deadline_hours
        )
        if existing is None and now <= deadline:
            return min(deadline, now + RECHECK)
    return next_look_at(
        now=now, cadence=subscriber.cadence, last_digest=last_digest, settled=date, **rules
    )


def _planned_date(
    subscriber: ReadSubscriber,
    now: dt.datetime,
    forced: dt.date | None,
    last_digest: dt.date | None,
) -> dt.date | None:
    """The digest date to plan: the due one, or the forced one (``send --date``, which ignores
    the delivery hour) when it keeps the subscriber's cadence; None when nothing is due."""
    if forced is not None:
        allowed = cadence_allows(day=forced, cadence=subscriber.cadence, last_digest=last_digest)
        return forced if allowed else None
    return digest_date_due(
        now=now,
        timezone=subscriber.timezone,
        hour=subscriber.delivery_hour,
        cadence=subscriber.cadence,
        last_digest=last_digest,
    )


def _record_new(
    session: Session,
    new: list[tuple[ReadSubscriber, dt.date, list[tuple[int, float, list[str]]]]],
    now: dt.datetime,
    report: SendReport,
    ready: list[int],
) -> None:
    """Insert the chunk's new deliveries and their items in two statements; if another run got
    to one of them first (the unique constraint), fall back to one row at a time."""
    rows = [(s.id, date, items) for s, date, items in new]
    try:
        with session.begin_nested():
            ready.extend(store.create_deliveries(session, rows=rows, now=now))
            return
    except IntegrityError:
        log.info("plan_chunk_conflict", rows=len(rows), fallback="one_by_one")
    for subscriber, date, items in new:
        created = store.create_delivery(
            session, subscriber_id=subscriber.id, digest_date=date, items=items, now=now
        )
        if created is None:
            report.add(
                Outcome(subscriber.email, "skipped", f"digest for {date} taken by another run")
            )
        else:
            ready.append(created.id)


def _plan_one(
    pipeline: Pipeline,
    session: Session,
    subscriber: ReadSubscriber,
    index: RelevanceIndex,
    now: dt.datetime,
    forced_date: dt.date | None,
    dry_run: bool,
    date: dt.date | None,
    existing: DeliveryRow | None,
    history: ranking_inputs.History,
) -> Outcome | int | tuple[dt.date, list[tuple[int, float, list[str]]]]:
    """The id of the subscriber's existing delivery row ready to send, the (date, items) of a new
    one for the caller to insert with the rest of the chunk, or the Outcome that ends it here."""
    if date is None:
        return Outcome(subscriber.email, "skipped", "not due yet")
    resumable = existing is not None and (
        existing.status in store.OPEN_DELIVERY
        or (
            existing.status == "sending"
            and existing.lease_until is not None
            and existing.lease_until < now
        )
    )
    if existing is not None and not resumable:
        return Outcome(subscriber.email, "skipped", f"digest for {date} already {existing.status}")
    deadline = due_at(
        digest_date=date, timezone=subscriber.timezone, hour=subscriber.delivery_hour
    ) + dt.timedelta(hours=pipeline.settings.delivery_deadline_hours)
    if forced_date is None and now > deadline and existing is None:
        if calendar_quiet(pipeline.settings, subscriber, date):
            # The sources announce nothing for this digest: not a digest missed.
            return Outcome(subscriber.email, "skipped", f"quiet day {date}: nothing announced")
    if forced_date is None and now > deadline:
        # A morning digest arriving in the afternoon is worse than none: record it as missed.
        if dry_run:
            return Outcome(subscriber.email, "missed", f"digest for {date} past its deadline")
        with session.begin_nested():
            if existing is None:
                existing = store.create_delivery(
                    session, subscriber_id=subscriber.id, digest_date=date, items=[], now=now
                )
            if existing is not None:
                store.finish_delivery(
                    session, delivery_id=existing.id, status="missed", now=now,
                    error=f"not sent by {deadline.isoformat()} (deadline)",
                )  # fmt: skip
        return Outcome(subscriber.email, "missed", f"digest for {date} past its deadline")
    if existing is not None:
        if dry_run:
            papers = stored_papers(session, existing.id)
            return Outcome(subscriber.email, "would_send", f"resume digest for {date}", len(papers))
        return existing.id
    papers = ranking_inputs.rank_for_subscriber(
        session,
        settings=pipeline.settings,
        subscriber=subscriber,
        index=index,
        now=now,
        history=history,
    )
    if not papers and subscriber.skip_empty:
        # No row: papers ingested later that day can still make a digest.
        return Outcome(subscriber.email, "skipped", "no new papers match (skip empty days)")
    if not papers and calendar_quiet(pipeline.settings, subscriber, date):
        # No row and no note: the sources announce nothing for this digest (their calendars say
        # so); the next digest mentions the quiet days.
        return Outcome(subscriber.email, "skipped", f"quiet day {date}: nothing announced")
    if dry_run:
        facts = day_facts(session, pipeline.settings, subscriber, date, papers, now)
        pipeline.renderer.render(make_digest(pipeline, subscriber, date, papers, facts=facts))
        return Outcome(subscriber.email, "would_send", f"digest for {date}", len(papers))
    # A quiet day is a delivery too (no items): a short note, so silence never means "broken".
    return date, [
        (p.paper.paper_id, p.score, [r.label for r in p.reasons], p.interest) for p in papers
    ]
