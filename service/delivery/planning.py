"""Plan due digests and carry each through the outbox: pending → sending → sent | deferred | failed
| in_doubt (went out, no reply to its end: never resent).

Every digest is a ``deliveries`` row (unique per subscriber and digest date) with its chosen
papers before a byte goes to SMTP, and becomes ``sent`` only after the server accepted it. A rerun
finds the row and neither sends it twice nor drops it: an open row (pending, or deferred whose
retry time has come) is resumed with the same papers, a finished one is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import zoneinfo
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.delivery import ranking_inputs
from service.delivery.bounces import BounceEvent, apply_events, classify_refusal
from service.delivery.mailer import Mailer, build_message
from service.delivery.smtp_pool import Job, Result, SmtpPool
from service.digest.render import Renderer
from service.errors import PaperboyError, StoreWriteError
from service.ranking.index import RelevanceIndex
from service.records import Digest, DigestLinks, Reason, RenderedDigest, ScoredPaper, Topic
from service.settings import Settings
from service.sources import source_calendar
from service.sources.arxiv_calendar import quiet_reason
from service.storage import store
from service.storage.engine import session_scope
from service.storage.models import Delivery, Subscriber
from service.subscribers.tokens import Signer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    email: str
    status: str  # sent, skipped, failed, deferred, missed, in_doubt, would_send, left
    detail: str = ""
    papers: int = 0


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    deferred: int = 0
    missed: int = 0
    in_doubt: int = 0  # went out, no reply to its end: maybe delivered, never resent
    dry_run: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    paused: str | None = None  # why the circuit breaker stopped the run, if it did
    aborted: str | None = None  # why the run stopped at once (the database refused a write)
    left: int = 0  # ready digests this run did not try (breaker or per-run cap): still open
    queued: int | None = None  # with the procrastinate queue: deliveries handed to workers
    jobs: int = 0  # ... in this many jobs

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        counter = {"would_send": "sent"}.get(outcome.status, outcome.status)
        setattr(self, counter, getattr(self, counter) + 1)

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "sent": self.sent, "deferred": self.deferred, "failed": self.failed,
            "skipped": self.skipped, "missed": self.missed,
        }  # fmt: skip
        if self.in_doubt:
            data["in_doubt"] = self.in_doubt
        if self.dry_run:
            data["dry_run"] = True
        if self.paused:
            data["paused"] = self.paused
        if self.aborted:
            data["aborted"] = self.aborted
        if self.left:
            data["left"] = self.left
        if self.queued is not None:
            data["queued"] = self.queued
            data["jobs"] = self.jobs
        return data


@dataclass(slots=True)
class Pipeline:
    """What one run needs, built once per run and shared by every subscriber."""

    settings: Settings
    factory: sessionmaker[Session]
    renderer: Renderer
    signer: Signer

    def links(self, subscriber_id: int, paper_ids: Sequence[int]) -> DigestLinks:
        base = self.settings.base_url
        feedback = {
            pid: tuple(
                f"{base}/feedback/{self.signer.make('feedback', s=subscriber_id, p=pid, v=vote)}"
                for vote in (1, -1)
            )
            for pid in paper_ids
        }
        manage = self.signer.make("manage", s=subscriber_id)
        return DigestLinks(
            manage=f"{base}/manage/{manage}",
            unsubscribe=f"{base}/unsubscribe/{self.signer.make('unsubscribe', s=subscriber_id)}",
            feedback=feedback,  # type: ignore[arg-type]
            archive=f"{base}/archive/{manage}",
        )


def digest_date_due(
    *, now: dt.datetime, timezone: str, hour: int, cadence: str, last_digest: dt.date | None
) -> dt.date | None:
    """Pure: the digest date a subscriber is due for at ``now``, or None if not due yet.

    Due once the subscriber's local clock has passed their delivery hour; weekly subscribers are
    due again seven local days after their previous digest.
    """
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    if local.hour < hour:
        return None
    today = local.date()
    return today if cadence_allows(day=today, cadence=cadence, last_digest=last_digest) else None


def cadence_allows(*, day: dt.date, cadence: str, last_digest: dt.date | None) -> bool:
    """Pure: whether a digest dated ``day`` keeps the cadence: a weekly subscriber gets no digest
    within seven days of their previous one (either side: a forced earlier date counts too)."""
    return cadence != "weekly" or last_digest is None or abs((day - last_digest).days) >= 7


def due_at(*, digest_date: dt.date, timezone: str, hour: int) -> dt.datetime:
    """Pure: the UTC moment a digest date's delivery hour begins in the subscriber's time zone.

    A wall-clock hour that a DST change skips resolves forward (zoneinfo's fold=0 rule).
    """
    local = dt.datetime.combine(digest_date, dt.time(hour), tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def next_digest_at(
    *, now: dt.datetime, timezone: str, hour: int, cadence: str, last_digest: dt.date | None,
    deadline_hours: int, taken: Collection[dt.date] = (),
) -> tuple[dt.date, dt.datetime]:  # fmt: skip
    """Pure: (digest date, UTC moment) the planner first sends a subscriber's next digest, by the
    rules ``send_due`` plans with: ``digest_date_due``, and a date is given up ``deadline_hours``
    after ``due_at``. ``now`` itself when a digest is due already (the next delivery tick sends
    it). ``taken``: dates that already have a finished delivery row."""
    today = now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    for days in range(9):  # a weekly subscriber is due again within 7 days
        date = today + dt.timedelta(days=days)
        start = due_at(digest_date=date, timezone=timezone, hour=hour)
        moment = max(now, start)
        if date in taken or moment > start + dt.timedelta(hours=deadline_hours):
            continue
        due = digest_date_due(
            now=moment, timezone=timezone, hour=hour, cadence=cadence, last_digest=last_digest
        )
        if due == date:
            return date, moment
    raise AssertionError("a digest is due within 9 days")  # pragma: no cover


def next_digest_for(
    session: Session, *, settings: Settings, subscriber: Subscriber, now: dt.datetime
) -> tuple[dt.date, dt.datetime]:
    """``next_digest_at`` for a stored subscriber: their last sent digest and the dates whose
    delivery is already finished (the planner skips those) come from the database."""
    last_digest = store.planning_history(session, subscriber_ids=[subscriber.id])[subscriber.id][0]
    today = now.astimezone(zoneinfo.ZoneInfo(subscriber.timezone)).date()
    keys = [(subscriber.id, today + dt.timedelta(days=d)) for d in range(9)]
    rows = store.deliveries_for(session, keys=keys)
    taken = {date for (_sid, date), row in rows.items() if row.status not in store.OPEN_DELIVERY}
    return next_digest_at(
        now=now,
        timezone=subscriber.timezone,
        hour=subscriber.delivery_hour,
        cadence=subscriber.cadence,
        last_digest=last_digest,
        deadline_hours=settings.delivery_deadline_hours,
        taken=taken,
    )


def choose_papers(
    pipeline: Pipeline,
    session: Session,
    subscriber: Subscriber,
    index: RelevanceIndex,
    now: dt.datetime,
) -> list[ScoredPaper]:
    """Topics, floor, trending share, history and votes → ranked papers (service/delivery/ranking_inputs.py)."""
    return ranking_inputs.rank_for_subscriber(
        session, settings=pipeline.settings, subscriber=subscriber, index=index, now=now
    )


def build_index(pipeline: Pipeline, session: Session, now: dt.datetime) -> RelevanceIndex:
    """One index per run over the widest candidate window any subscriber can have."""
    return ranking_inputs.build_index(session, settings=pipeline.settings, now=now)


def make_digest(
    pipeline: Pipeline, subscriber: Subscriber, digest_date: dt.date, papers: Sequence[ScoredPaper],
    *, facts: DayFacts | None = None,
) -> Digest:  # fmt: skip
    facts = facts or DayFacts()
    return Digest(
        email=subscriber.email,
        digest_date=digest_date,
        papers=tuple(papers),
        links=pipeline.links(subscriber.id, [p.paper.paper_id for p in papers]),
        topics=tuple(ranking_inputs.topics_of(subscriber)),
        notes=facts.notes,
        cadence=subscriber.cadence,
        new_papers=facts.new_papers,
    )


@dataclass(frozen=True, slots=True)
class DayFacts:
    """What a digest says about its days besides its papers: how many new papers its window had
    (for an empty digest: none at all, or none that matched) and the notes on quiet days."""

    new_papers: int | None = None
    notes: tuple[str, ...] = ()


def window(subscriber: Subscriber, digest_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The time a digest covers: from the previous digest's due moment (a day, or a week for a
    weekly subscriber) to its own."""
    days = 7 if subscriber.cadence == "weekly" else 1
    tz, hour = subscriber.timezone, subscriber.delivery_hour
    until = due_at(digest_date=digest_date, timezone=tz, hour=hour)
    since = due_at(digest_date=digest_date - dt.timedelta(days=days), timezone=tz, hour=hour)
    return since, until


def calendar_quiet(settings: Settings, subscriber: Subscriber, digest_date: dt.date) -> bool:
    """True when every enabled source with a calendar is expected to announce nothing for this
    digest (arXiv and Daily Papers on weekends, arXiv's holidays): no quiet-day note is sent."""
    since, until = window(subscriber, digest_date)
    return source_calendar.is_quiet(
        settings.enabled_sources, since=since, until=until, holidays=settings.arxiv_holiday_dates
    )


def day_facts(
    session: Session, settings: Settings, subscriber: Subscriber, digest_date: dt.date,
    papers: Sequence[ScoredPaper], now: dt.datetime,
) -> DayFacts:  # fmt: skip
    """The new papers and notes of one digest: the calendar-quiet days since the subscriber's
    previous digest ("Nothing was announced on Saturday and Sunday."), and for an empty digest
    the number of new papers in its window and which expected source had none."""
    notes: list[str] = []
    last_date = store.last_digest_date(session, subscriber_id=subscriber.id)
    if subscriber.cadence != "weekly" and last_date is not None:
        # The days since the previous digest without one, named if the calendars kept them quiet
        # (within a week: older gaps are a pause, not a weekend).
        gap = range(1, (digest_date - last_date).days)
        skipped = [last_date + dt.timedelta(days=d) for d in gap] if len(gap) < 7 else []
        quiet = [d for d in skipped if calendar_quiet(settings, subscriber, d)]
        if quiet:
            notes.append(f"Nothing was announced on {source_calendar.day_names(quiet)}.")
    if papers:
        return DayFacts(None, tuple(notes))
    last_sent = store.last_sent_at(session, subscriber_id=subscriber.id)
    since = ranking_inputs.candidate_since(
        settings=settings, subscriber=subscriber, now=now, previous=last_sent
    )
    seen = store.sources_of_papers_seen(session, since=since, until=now)
    when = "this week" if subscriber.cadence == "weekly" else "today"
    window_since, window_until = window(subscriber, digest_date)
    holidays = settings.arxiv_holiday_dates
    expected = source_calendar.expected_sources(
        settings.enabled_sources, since=window_since, until=window_until, holidays=holidays
    )
    if "arxiv" in settings.enabled_sources and "arxiv" not in expected:
        reason = quiet_reason(source_calendar.listing_day("arxiv", window_until), holidays)
        if reason:
            notes.append(f"No new arXiv papers {when}: {reason}.")
    for source in expected:
        if not any(source in sources for sources in seen):
            notes.append(
                f"No new papers came from {source_calendar.NAMES[source]} {when}, though its "
                "calendar expected some: your next digest will catch up on them."
            )
    return DayFacts(len(seen), tuple(notes))


def preview(
    pipeline: Pipeline, *, email: str, now: dt.datetime, digest_date: dt.date | None = None
) -> tuple[Digest, RenderedDigest]:
    """Rank and render what ``email`` would get now, writing and sending nothing."""
    with session_scope(pipeline.factory) as session:
        subscriber = store.get_subscriber(session, email=email)
        if subscriber is None:
            raise PaperboyError(f"no subscriber {email!r}")
        index = build_index(pipeline, session, now)
        papers = choose_papers(pipeline, session, subscriber, index, now)
        date = digest_date or now.astimezone(zoneinfo.ZoneInfo(subscriber.timezone)).date()
        facts = day_facts(session, pipeline.settings, subscriber, date, papers, now)
        digest = make_digest(pipeline, subscriber, date, papers, facts=facts)
    return digest, pipeline.renderer.render(digest)


Progress = Callable[[int, int], None]  # (digests handled so far, digests to send)


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
    with session_scope(pipeline.factory) as session:
        subscribers = store.list_subscribers(session, status="active")
        if only is not None:
            subscribers = [s for s in subscribers if s.email == only]
        index = build_index(pipeline, session, now) if subscribers else RelevanceIndex([])
    ready: list[int] = []
    planned_count = 0
    for chunk in _chunked(subscribers, PLAN_CHUNK):
        if stop is not None and stop.is_set():
            # Shutting down mid-plan: rows already written stay open for the next tick.
            log.info(
                "plan_stopping reason=shutdown planned=%d left=%d",
                planned_count,
                len(subscribers) - planned_count,
            )
            break
        _plan_chunk(pipeline, chunk, index, now, digest_date, dry_run, report, ready)
        planned_count += len(chunk)
    planned_at = time.monotonic()
    log.info(
        "plan subscribers=%d ready=%d skipped=%d missed=%d failed=%d seconds=%.2f",
        len(subscribers), len(ready), report.skipped, report.missed, report.failed, planned_at - started,
    )  # fmt: skip
    if ready and enqueue is not None and not dry_run:
        with session_scope(pipeline.factory) as session:
            to_queue = store.deliveries_to_queue(
                session,
                ids=ready,
                now=now,
                stale_before=now - dt.timedelta(seconds=pipeline.settings.lease_seconds),
            )
        report.queued = len(to_queue)
        report.jobs = enqueue(to_queue)
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
        "send sent=%d deferred=%d failed=%d skipped=%d missed=%d left=%d queued=%s paused=%s dry_run=%s seconds=%.2f",
        report.sent, report.deferred, report.failed, report.skipped, report.missed, report.left,
        report.queued, report.paused is not None, dry_run, time.monotonic() - planned_at,
    )  # fmt: skip
    return report


PLAN_CHUNK = 500  # subscribers planned per transaction


def _chunked(items: Sequence[Subscriber], size: int) -> Iterator[Sequence[Subscriber]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _plan_chunk(
    pipeline: Pipeline,
    chunk: Sequence[Subscriber],
    index: RelevanceIndex,
    now: dt.datetime,
    forced_date: dt.date | None,
    dry_run: bool,
    report: SendReport,
    ready: list[int],
) -> None:
    """Plan a chunk of subscribers in one transaction: their history in a few queries, then each
    subscriber in a savepoint, so one subscriber's bad data rolls back only their own row."""
    with session_scope(pipeline.factory) as session:
        history = ranking_inputs.histories(session, subscriber_ids=[s.id for s in chunk])
        dates: dict[int, dt.date | None] = {
            s.id: _planned_date(s, now, forced_date, history[s.id][0]) for s in chunk
        }
        existing = store.deliveries_for(
            session, keys=[(sid, d) for sid, d in dates.items() if d is not None]
        )
        new: list[tuple[Subscriber, dt.date, list[tuple[int, float, list[str]]]]] = []
        for subscriber in chunk:
            date = dates[subscriber.id]
            try:
                planned = _plan_one(
                    pipeline, session, subscriber, index, now, forced_date, dry_run, date,
                    existing.get((subscriber.id, date)) if date else None, history[subscriber.id][1],
                )  # fmt: skip
            except Exception as exc:  # one subscriber's bug or bad data must not stop the run
                log.exception("delivery_error subscriber_id=%s", subscriber.id)
                planned = Outcome(subscriber.email, "failed", f"internal error: {exc}")
            if isinstance(planned, Outcome):
                report.add(planned)
            elif isinstance(planned, int):
                ready.append(planned)
            else:
                new.append((subscriber, *planned))
        if new:
            _record_new(session, new, now, report, ready)


def _planned_date(
    subscriber: Subscriber, now: dt.datetime, forced: dt.date | None, last_digest: dt.date | None
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
    new: list[tuple[Subscriber, dt.date, list[tuple[int, float, list[str]]]]],
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
        log.info(
            "plan_chunk_conflict rows=%d: another run planned some; inserting one by one", len(rows)
        )
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
    subscriber: Subscriber,
    index: RelevanceIndex,
    now: dt.datetime,
    forced_date: dt.date | None,
    dry_run: bool,
    date: dt.date | None,
    existing: Delivery | None,
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
            papers = _stored_papers(session, existing.id)
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
    return date, [(p.paper.paper_id, p.score, [r.label for r in p.reasons]) for p in papers]


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
                log.info("send_stopping reason=shutdown left=%d", total - reached)
                return  # shutting down: messages in flight finish, the rest stay open
            reached += 1
            try:
                prepared = _claim_and_build(pipeline, delivery_id, clock())
            except SQLAlchemyError as exc:  # the database refuses: stop before sending more
                raise StoreWriteError(
                    f"cannot claim delivery {delivery_id} in the database: {_brief(exc)}"
                ) from exc
            except Exception as exc:  # one row's bad data must not stop the run
                log.exception("delivery_claim_failed delivery_id=%s", delivery_id)
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
        log.warning("send_capped cap=%d left=%d", settings.send_max_per_run, report.left)
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
        papers = _stored_papers(session, delivery_id)
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
        log.exception("delivery_build_failed delivery_id=%s", delivery_id)
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
            log.error("delivery id=%s status=in_doubt error=%r", delivery_id, error)
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
    log.info("delivery id=%s status=%s papers=%d error=%r", delivery_id, status, paper_count, error)
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
            "subscriber_suppressed status=bounced hard=%s reason=%r", kind == "hard", str(error)
        )


def _brief(exc: BaseException) -> str:
    """The driver's own one-line message (SQLAlchemy's text adds the SQL and a link)."""
    return (str(getattr(exc, "orig", None) or exc) or type(exc).__name__).splitlines()[0]


def _stored_papers(session: Session, delivery_id: int) -> list[ScoredPaper]:
    """The papers a delivery was created with, so a resumed send mails the same digest."""
    items = store.delivery_items(session, delivery_id=delivery_id)
    papers = store.papers_by_id(session, ids=[i.paper_id for i in items])
    return [
        ScoredPaper(papers[i.paper_id], i.score, tuple(Reason(label) for label in i.reasons))
        for i in items
        if i.paper_id in papers
    ]


def preview_papers(
    pipeline: Pipeline, *, subscriber_id: int, topics: Sequence[Topic], max_papers: int, now: dt.datetime,
    floor: float | None = None, trending_share: float | None = None,
) -> list[ScoredPaper]:  # fmt: skip
    """What a subscriber's next digest would hold with these (unsaved) topics and maximum, and
    relevance floor and trending share when given (None: the stored ones)."""
    with session_scope(pipeline.factory) as session:
        subscriber = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
        if subscriber is None:
            raise PaperboyError(f"no subscriber #{subscriber_id}")
        index = build_index(pipeline, session, now)
        return ranking_inputs.rank_for_subscriber(
            session, settings=pipeline.settings, subscriber=subscriber, index=index, now=now,
            topics=topics, max_papers=max_papers, floor=floor, trending_share=trending_share,
        )  # fmt: skip
