"""Plan due digests and carry each through the outbox: pending → sending → sent | deferred | failed.

Every digest is a ``deliveries`` row (unique per subscriber and digest date) with its chosen
papers before a byte goes to SMTP, and becomes ``sent`` only after the server accepted it. A rerun
finds the row and neither sends it twice nor drops it: an open row (pending, or deferred whose
retry time has come) is resumed with the same papers, a finished one is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from service import personal, store
from service.arxiv_calendar import quiet_reason
from service.db import session_scope
from service.errors import PaperboyError, PermanentSendError, TransientSendError
from service.mailer import Mailer, build_message
from service.models import Subscriber
from service.rank import RelevanceIndex
from service.records import Digest, DigestLinks, Reason, RenderedDigest, ScoredPaper, Topic
from service.render import Renderer
from service.settings import Settings
from service.tokens import Signer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    email: str
    status: str  # sent, skipped, failed, deferred, missed, would_send
    detail: str = ""
    papers: int = 0


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    deferred: int = 0
    missed: int = 0
    dry_run: bool = False
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        counter = {"would_send": "sent"}.get(outcome.status, outcome.status)
        setattr(self, counter, getattr(self, counter) + 1)

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "sent": self.sent, "deferred": self.deferred, "failed": self.failed,
            "skipped": self.skipped, "missed": self.missed,
        }  # fmt: skip
        if self.dry_run:
            data["dry_run"] = True
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
                f"{base}/feedback/{self.signer.make('feedback', s=subscriber_id, p=pid, v=vote)}" for vote in (1, -1)
            )
            for pid in paper_ids
        }
        return DigestLinks(
            manage=f"{base}/manage/{self.signer.make('manage', s=subscriber_id)}",
            unsubscribe=f"{base}/unsubscribe/{self.signer.make('unsubscribe', s=subscriber_id)}",
            feedback=feedback,  # type: ignore[arg-type]
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
    if cadence == "weekly" and last_digest is not None and (today - last_digest).days < 7:
        return None
    return today


def due_at(*, digest_date: dt.date, timezone: str, hour: int) -> dt.datetime:
    """Pure: the UTC moment a digest date's delivery hour begins in the subscriber's time zone.

    A wall-clock hour that a DST change skips resolves forward (zoneinfo's fold=0 rule).
    """
    local = dt.datetime.combine(digest_date, dt.time(hour), tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def topics_of(subscriber: Subscriber) -> list[Topic]:
    return [Topic(t.kind, t.text, t.weight) for t in subscriber.topics]


def candidate_since(pipeline: Pipeline, session: Session, subscriber: Subscriber, now: dt.datetime) -> dt.datetime:
    """Papers first seen after the previous digest are candidates; a first digest looks back N days."""
    window = now - dt.timedelta(days=pipeline.settings.candidate_days)
    previous = store.last_sent_at(session, subscriber_id=subscriber.id)
    return max(previous, window) if previous else window


def choose_papers(
    pipeline: Pipeline, session: Session, subscriber: Subscriber, index: RelevanceIndex, now: dt.datetime
) -> list[ScoredPaper]:
    """Topics, floor, trending share, history and votes → ranked papers (service/personal.py)."""
    return personal.rank_for_subscriber(session, settings=pipeline.settings, subscriber=subscriber, index=index, now=now)


def build_index(pipeline: Pipeline, session: Session, now: dt.datetime) -> RelevanceIndex:
    """One index per run over the widest candidate window any subscriber can have."""
    return personal.build_index(session, settings=pipeline.settings, now=now)


def make_digest(pipeline: Pipeline, subscriber: Subscriber, digest_date: dt.date, papers: Sequence[ScoredPaper]) -> Digest:
    return Digest(
        email=subscriber.email,
        digest_date=digest_date,
        papers=tuple(papers),
        links=pipeline.links(subscriber.id, [p.paper.paper_id for p in papers]),
        topics=tuple(topics_of(subscriber)),
        notes=() if papers else quiet_day_notes(pipeline.settings, digest_date),
    )


def quiet_day_notes(settings: Settings, digest_date: dt.date) -> tuple[str, ...]:
    """Why the sources had nothing on ``digest_date``, for the quiet-day note (arXiv's calendar)."""
    if "arxiv" not in settings.enabled_sources:
        return ()
    reason = quiet_reason(digest_date, settings.arxiv_holiday_dates)
    return (f"No new arXiv papers today: {reason}.",) if reason else ()


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
        local_today = now.astimezone(zoneinfo.ZoneInfo(subscriber.timezone)).date()
        digest = make_digest(pipeline, subscriber, digest_date or local_today, papers)
    return digest, pipeline.renderer.render(digest)


def send_due(
    pipeline: Pipeline,
    *,
    mailer: Mailer | None,
    now: dt.datetime,
    only: str | None = None,
    digest_date: dt.date | None = None,
    dry_run: bool = False,
) -> SendReport:
    """Build and deliver every due digest; one subscriber's failure never stops the others.

    ``digest_date`` forces that date for everybody (ignoring the delivery hour); ``only`` limits
    the run to one address; ``dry_run`` ranks and renders but writes and sends nothing.
    """
    report = SendReport(dry_run=dry_run)
    with session_scope(pipeline.factory) as session:
        subscribers = store.list_subscribers(session, status="active")
        if only is not None:
            subscribers = [s for s in subscribers if s.email == only]
        index = build_index(pipeline, session, now) if subscribers else RelevanceIndex([])
    for subscriber in subscribers:
        try:
            outcome = _deliver_one(pipeline, mailer, subscriber, index, now, digest_date, dry_run)
        except Exception as exc:  # one subscriber's bug or bad data must not stop the run
            log.exception("delivery_error subscriber_id=%s", subscriber.id)
            outcome = Outcome(subscriber.email, "failed", f"internal error: {exc}")
        report.add(outcome)
    log.info(
        "send sent=%d deferred=%d failed=%d skipped=%d missed=%d dry_run=%s",
        report.sent, report.deferred, report.failed, report.skipped, report.missed, dry_run,
    )  # fmt: skip
    return report


def _deliver_one(
    pipeline: Pipeline,
    mailer: Mailer | None,
    subscriber: Subscriber,
    index: RelevanceIndex,
    now: dt.datetime,
    forced_date: dt.date | None,
    dry_run: bool,
) -> Outcome:
    with session_scope(pipeline.factory) as session:
        date = forced_date or digest_date_due(
            now=now, timezone=subscriber.timezone, hour=subscriber.delivery_hour,
            cadence=subscriber.cadence, last_digest=store.last_digest_date(session, subscriber_id=subscriber.id),
        )  # fmt: skip
        if date is None:
            return Outcome(subscriber.email, "skipped", "not due yet")
        existing = store.get_delivery(session, subscriber_id=subscriber.id, digest_date=date)
        resumable = existing is not None and (
            existing.status in store.OPEN_DELIVERY
            or (existing.status == "sending" and existing.lease_until is not None and existing.lease_until < now)
        )
        if existing is not None and not resumable:
            return Outcome(subscriber.email, "skipped", f"digest for {date} already {existing.status}")
        deadline = due_at(digest_date=date, timezone=subscriber.timezone, hour=subscriber.delivery_hour) + dt.timedelta(
            hours=pipeline.settings.delivery_deadline_hours
        )
        if forced_date is None and now > deadline:
            # A morning digest arriving in the afternoon is worse than none: record it as missed.
            if dry_run:
                return Outcome(subscriber.email, "missed", f"digest for {date} past its deadline")
            if existing is None:
                existing = store.create_delivery(session, subscriber_id=subscriber.id, digest_date=date, items=[], now=now)
            if existing is not None:
                store.finish_delivery(
                    session, delivery_id=existing.id, status="missed", now=now,
                    error=f"not sent by {deadline.isoformat()} (deadline)",
                )  # fmt: skip
            return Outcome(subscriber.email, "missed", f"digest for {date} past its deadline")
        if existing is not None:
            delivery_id = existing.id
            papers = _stored_papers(session, delivery_id)
        else:
            papers = choose_papers(pipeline, session, subscriber, index, now)
            if not papers and subscriber.skip_empty:
                # No row: papers ingested later that day can still make a digest.
                return Outcome(subscriber.email, "skipped", "no new papers match (skip empty days)")
            if dry_run:
                pipeline.renderer.render(make_digest(pipeline, subscriber, date, papers))
                return Outcome(subscriber.email, "would_send", f"digest for {date}", len(papers))
            items = [(p.paper.paper_id, p.score, [r.label for r in p.reasons]) for p in papers]
            # A quiet day is a delivery too: a short note, so silence never means "broken".
            created = store.create_delivery(session, subscriber_id=subscriber.id, digest_date=date, items=items, now=now)
            if created is None:  # another run created it between our look and our insert
                return Outcome(subscriber.email, "skipped", f"digest for {date} taken by another run")
            delivery_id = created.id
    if dry_run:
        return Outcome(subscriber.email, "would_send", f"resume digest for {date}", len(papers))
    with session_scope(pipeline.factory) as session:
        lease_until = now + dt.timedelta(seconds=pipeline.settings.lease_seconds)
        if not store.claim_delivery(session, delivery_id=delivery_id, now=now, lease_until=lease_until):
            return Outcome(subscriber.email, "skipped", "claimed by another run, retry not due, or no longer active")
    return _send_claimed(pipeline, mailer, subscriber, delivery_id, date, papers, now)


def _send_claimed(
    pipeline: Pipeline,
    mailer: Mailer | None,
    subscriber: Subscriber,
    delivery_id: int,
    date: dt.date,
    papers: Sequence[ScoredPaper],
    now: dt.datetime,
) -> Outcome:
    settings = pipeline.settings
    assert mailer is not None, "a mailer is required outside dry runs"
    error: str | None = None
    status, next_attempt = "sent", None
    message_id = None
    try:
        digest = make_digest(pipeline, subscriber, date, papers)
        message = build_message(
            pipeline.renderer.render(digest), to=subscriber.email, from_addr=settings.from_address,
            base_url=settings.base_url, unsubscribe_url=digest.links.unsubscribe,
            list_id=f"digest.{settings.list_domain}", reply_to=settings.reply_to, date=now,
            unsubscribe_mailto=settings.list_unsubscribe_mailto,
        )  # fmt: skip
        message_id = message["Message-ID"]
        mailer.send(message)
    except TransientSendError as exc:
        status, error = "deferred", str(exc)
    except PermanentSendError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # rendering or building failed: keep the row, say why
        log.exception("delivery_build_failed delivery_id=%s", delivery_id)
        status, error = "failed", f"could not build the message: {exc}"
    with session_scope(pipeline.factory) as session:
        if status == "deferred":
            attempts = store.delivery_attempts(session, delivery_id=delivery_id)
            if attempts >= settings.retry_max_attempts:
                status = "failed"
                error = f"gave up after {attempts} attempts: {error}"
            else:
                next_attempt = now + dt.timedelta(seconds=settings.retry_base_seconds * 2 ** (attempts - 1))
        store.finish_delivery(
            session, delivery_id=delivery_id, status=status, now=now, message_id=message_id,
            error=error, next_attempt_at=next_attempt,
        )  # fmt: skip
    log.info("delivery id=%s status=%s papers=%d error=%r", delivery_id, status, len(papers), error)
    return Outcome(subscriber.email, status, error or f"digest for {date}", len(papers))


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
    pipeline: Pipeline, *, subscriber_id: int, topics: Sequence[Topic], max_papers: int, now: dt.datetime
) -> list[ScoredPaper]:
    """What a subscriber's next digest would hold with these (unsaved) topics and maximum."""
    with session_scope(pipeline.factory) as session:
        subscriber = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
        if subscriber is None:
            raise PaperboyError(f"no subscriber #{subscriber_id}")
        index = build_index(pipeline, session, now)
        return personal.rank_for_subscriber(
            session, settings=pipeline.settings, subscriber=subscriber, index=index, now=now,
            topics=topics, max_papers=max_papers,
        )  # fmt: skip
