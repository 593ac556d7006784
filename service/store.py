"""Every query Paperboy makes. Keyword-only arguments, a session first; the caller commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from service.models import (
    Delivery,
    DeliveryItem,
    Feedback,
    IngestRun,
    Paper,
    Sighting,
    Subscriber,
    Topic,
)
from service.records import Candidate

_CHUNK = 500  # keeps IN (...) lists under SQLite's variable limit
OPEN_DELIVERY = ("pending", "deferred")
NOT_SENT = ("failed", "missed")


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- papers -----------------------------------------------------------------------------------

_STATE_COLUMNS = (
    "arxiv_id", "arxiv_version", "title", "abstract", "authors", "author_count", "categories",
    "published", "abstract_url", "pdf_url", "code_url", "project_url", "thumbnail_url",
    "ai_summary", "ai_keywords", "sources", "upvotes", "comments", "stars",
)  # fmt: skip


def paper_states(session: Session, *, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Stored mergeable fields of the papers with these keys, by key."""
    wanted = sorted(set(keys))
    states: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(wanted):
        for paper in session.scalars(select(Paper).where(Paper.key.in_(chunk))):
            states[paper.key] = {name: getattr(paper, name) for name in _STATE_COLUMNS}
    return states


def insert_paper(session: Session, *, key: str, fields: dict[str, Any], now: dt.datetime) -> Paper:
    paper = Paper(key=key, first_seen=now, last_seen=now, **fields)
    session.add(paper)
    return paper


def update_paper(
    session: Session, *, key: str, fields: dict[str, Any], now: dt.datetime, old_key: str | None = None
) -> None:
    """Apply changed fields to the paper stored under ``old_key or key``; first_seen is kept."""
    values = dict(fields, last_seen=now)
    if old_key is not None:
        values["key"] = key
    session.execute(update(Paper).where(Paper.key == (old_key or key)).values(**values))


def paper_ids(session: Session, *, keys: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(keys))
    ids: dict[str, int] = {}
    for chunk in _chunks(wanted):
        ids.update(session.execute(select(Paper.key, Paper.id).where(Paper.key.in_(chunk))).all())
    return ids


def count_papers(session: Session) -> int:
    return session.scalar(select(func.count(Paper.id))) or 0


def latest_papers(session: Session, *, limit: int = 30) -> list[Candidate]:
    """The most recently first-seen papers, most upvoted first within the same moment."""
    rows = session.scalars(
        select(Paper).order_by(Paper.first_seen.desc(), Paper.upvotes.desc().nulls_last(), Paper.id).limit(limit)
    )
    return [to_candidate(p) for p in rows]


def candidates_since(session: Session, *, since: dt.datetime) -> list[Candidate]:
    """Papers first seen at or after ``since``: the pool one run ranks from."""
    rows = session.scalars(select(Paper).where(Paper.first_seen >= since).order_by(Paper.id))
    return [to_candidate(p) for p in rows]


def papers_by_id(session: Session, *, ids: Iterable[int]) -> dict[int, Candidate]:
    wanted = sorted(set(ids))
    found: dict[int, Candidate] = {}
    for chunk in _chunks(wanted):
        for paper in session.scalars(select(Paper).where(Paper.id.in_(chunk))):
            found[paper.id] = to_candidate(paper)
    return found


def to_candidate(paper: Paper) -> Candidate:
    return Candidate(
        paper_id=paper.id, key=paper.key, title=paper.title, abstract=paper.abstract or "",
        arxiv_id=paper.arxiv_id, authors=tuple(paper.authors or ()), author_count=paper.author_count,
        categories=tuple(paper.categories or ()), published=paper.published, first_seen=paper.first_seen,
        sources=tuple(paper.sources or ()), upvotes=paper.upvotes, comments=paper.comments,
        stars=paper.stars, abstract_url=paper.abstract_url, pdf_url=paper.pdf_url,
        code_url=paper.code_url, project_url=paper.project_url, ai_summary=paper.ai_summary,
    )  # fmt: skip


# --- sightings and ingest runs ------------------------------------------------------------------


def sighting_observations(session: Session, *, paper_ids: Iterable[int], source: str) -> set[tuple[Any, ...]]:
    """Every recorded (paper_id, listed_on, position, upvotes) of these papers from ``source``."""
    wanted = sorted(set(paper_ids))
    seen: set[tuple[Any, ...]] = set()
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Sighting.paper_id, Sighting.listed_on, Sighting.position, Sighting.upvotes).where(
                Sighting.source == source, Sighting.paper_id.in_(chunk)
            )
        )
        seen.update(tuple(row) for row in rows)
    return seen


def add_sightings(session: Session, *, rows: Iterable[dict[str, Any]]) -> int:
    objects = [Sighting(**row) for row in rows]
    session.add_all(objects)
    return len(objects)


def start_ingest_run(session: Session, *, source: str, input_name: str | None, now: dt.datetime) -> IngestRun:
    run = IngestRun(source=source, input_name=input_name, started_at=now)
    session.add(run)
    session.flush()
    return run


def finish_ingest_run(session: Session, *, run_id: int, counts: dict[str, Any], error: str | None, now: dt.datetime) -> None:
    values = {k: counts[k] for k in ("fetched", "new", "updated", "unchanged", "rejected")}
    session.execute(update(IngestRun).where(IngestRun.id == run_id).values(finished_at=now, error=error, **values))


def last_clean_ingest(session: Session, *, input_name: str) -> dt.datetime | None:
    """Start time of the latest ingest of this input that finished without error."""
    return session.scalar(
        select(func.max(IngestRun.started_at)).where(
            IngestRun.input_name == input_name, IngestRun.finished_at.is_not(None), IngestRun.error.is_(None)
        )
    )


# --- subscribers --------------------------------------------------------------------------------


def get_subscriber(session: Session, *, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == email).options(selectinload(Subscriber.topics)))


def get_subscriber_by_id(session: Session, *, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id, options=[selectinload(Subscriber.topics)])


def add_subscriber(
    session: Session,
    *,
    email: str,
    status: str,
    timezone: str,
    delivery_hour: int,
    cadence: str,
    max_papers: int,
    topics: Iterable[tuple[str, str, float]],
    now: dt.datetime,
    skip_empty: bool = False,
) -> Subscriber:
    """Create a subscriber with topics (kind, text, weight). Raises IntegrityError if the email exists."""
    subscriber = Subscriber(
        email=email, status=status, timezone=timezone, delivery_hour=delivery_hour, cadence=cadence,
        max_papers=max_papers, skip_empty=skip_empty, created_at=now,
        confirmed_at=now if status == "active" else None,
    )  # fmt: skip
    subscriber.topics = [Topic(kind=k, text=t, weight=w) for k, t, w in topics]
    session.add(subscriber)
    with session.begin_nested():
        session.flush()
    return subscriber


def list_subscribers(session: Session, *, status: str | None = None) -> list[Subscriber]:
    query = select(Subscriber).options(selectinload(Subscriber.topics)).order_by(Subscriber.id)
    if status is not None:
        query = query.where(Subscriber.status == status)
    return list(session.scalars(query))


def set_subscriber_status(session: Session, *, subscriber_id: int, status: str) -> bool:
    """Set the status; True when it changed."""
    result = session.execute(
        update(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.status != status).values(status=status)
    )
    return bool(result.rowcount)


def delete_subscriber(session: Session, *, subscriber_id: int) -> None:
    session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))


# --- deliveries ---------------------------------------------------------------------------------


def get_delivery(session: Session, *, subscriber_id: int, digest_date: dt.date) -> Delivery | None:
    return session.scalar(
        select(Delivery).where(Delivery.subscriber_id == subscriber_id, Delivery.digest_date == digest_date)
    )


def create_delivery(
    session: Session,
    *,
    subscriber_id: int,
    digest_date: dt.date,
    items: Sequence[tuple[int, float, list[str]]],
    now: dt.datetime,
) -> Delivery | None:
    """Insert a pending delivery with its items (paper id, score, reasons), or None if one exists.

    The unique (subscriber, digest date) constraint is the guard: two runs racing for the same
    digest create one row between them.
    """
    delivery = Delivery(
        subscriber_id=subscriber_id, digest_date=digest_date, status="pending", attempts=0,
        created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
            session.add_all(
                DeliveryItem(delivery_id=delivery.id, paper_id=pid, position=pos, score=score, reasons=reasons)
                for pos, (pid, score, reasons) in enumerate(items, start=1)
            )
            session.flush()
    except IntegrityError:
        return None
    return delivery


def claim_delivery(session: Session, *, delivery_id: int, now: dt.datetime, lease_until: dt.datetime) -> bool:
    """Move a delivery to ``sending`` under a lease; True only for the one caller that won it.

    Claimable: open (pending, or deferred whose retry time has come), or ``sending`` whose lease
    ran out because the process holding it died. The subscriber must still be active: an
    unsubscribe between planning and sending is honoured.
    """
    open_now = Delivery.status.in_(OPEN_DELIVERY) & (
        Delivery.next_attempt_at.is_(None) | (Delivery.next_attempt_at <= now)
    )
    abandoned = (Delivery.status == "sending") & (Delivery.lease_until < now)
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            open_now | abandoned,
            Delivery.subscriber_id.in_(select(Subscriber.id).where(Subscriber.status == "active")),
        )
        .values(status="sending", attempts=Delivery.attempts + 1, updated_at=now, lease_until=lease_until)
    )
    return result.rowcount == 1


def finish_delivery(
    session: Session,
    *,
    delivery_id: int,
    status: str,
    now: dt.datetime,
    message_id: str | None = None,
    error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status, "updated_at": now, "last_error": error, "next_attempt_at": next_attempt_at, "lease_until": None,
    }  # fmt: skip
    if status == "sent":
        values.update(sent_at=now, message_id=message_id)
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def get_delivery_by_id(session: Session, *, delivery_id: int) -> Delivery | None:
    return session.get(Delivery, delivery_id)


def release_delivery(session: Session, *, delivery_id: int, now: dt.datetime) -> bool:
    """Hand a claimed delivery back unsent: pending again, this attempt not counted."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "sending")
        .values(status="pending", attempts=Delivery.attempts - 1, updated_at=now, lease_until=None)
    )
    return result.rowcount == 1


def delivery_items(session: Session, *, delivery_id: int) -> list[DeliveryItem]:
    return list(
        session.scalars(select(DeliveryItem).where(DeliveryItem.delivery_id == delivery_id).order_by(DeliveryItem.position))
    )


def received_paper_ids(session: Session, *, subscriber_id: int) -> set[int]:
    """Papers this subscriber has been sent or is being sent (never to be sent again)."""
    rows = session.scalars(
        select(DeliveryItem.paper_id)
        .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
        .where(Delivery.subscriber_id == subscriber_id, Delivery.status.not_in(NOT_SENT))
    )
    return set(rows)


def last_sent_at(session: Session, *, subscriber_id: int) -> dt.datetime | None:
    return session.scalar(
        select(func.max(Delivery.sent_at)).where(Delivery.subscriber_id == subscriber_id, Delivery.status == "sent")
    )


def last_digest_date(session: Session, *, subscriber_id: int) -> dt.date | None:
    return session.scalar(
        select(func.max(Delivery.digest_date)).where(Delivery.subscriber_id == subscriber_id, Delivery.status == "sent")
    )


def delivery_attempts(session: Session, *, delivery_id: int) -> int:
    return session.scalar(select(Delivery.attempts).where(Delivery.id == delivery_id)) or 0


def recent_delivery_errors(session: Session, *, digest_date: dt.date | None = None, limit: int = 10) -> list[tuple[Any, ...]]:
    """(email, digest date, status, attempts, last error) of the latest deliveries that have an error."""
    query = (
        select(Subscriber.email, Delivery.digest_date, Delivery.status, Delivery.attempts, Delivery.last_error)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.last_error.is_not(None))
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    if digest_date is not None:
        query = query.where(Delivery.digest_date == digest_date)
    return [tuple(row) for row in session.execute(query)]


def count_deliveries_by_status(session: Session, *, digest_date: dt.date | None = None) -> dict[str, int]:
    query = select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
    if digest_date is not None:
        query = query.where(Delivery.digest_date == digest_date)
    return dict(session.execute(query).all())


# --- feedback -----------------------------------------------------------------------------------


def record_feedback(session: Session, *, subscriber_id: int, paper_id: int, vote: int, now: dt.datetime) -> bool:
    """Store a subscriber's vote (+1 or -1) on a paper; a later vote replaces an earlier one.

    Returns True when the stored vote changed (a repeated click changes nothing).
    """
    if vote not in (1, -1):
        raise ValueError(f"vote must be +1 or -1, got {vote!r}")
    existing = session.scalars(
        select(Feedback).where(Feedback.subscriber_id == subscriber_id, Feedback.paper_id == paper_id)
    ).first()
    if existing is None:
        session.add(Feedback(subscriber_id=subscriber_id, paper_id=paper_id, vote=vote, created_at=now))
        session.flush()
        return True
    if existing.vote == vote:
        return False
    existing.vote = vote
    existing.created_at = now
    return True


def feedback_votes(session: Session, *, subscriber_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """Votes per subscriber: ``{subscriber_id: {paper_id: vote}}``."""
    votes: dict[int, dict[int, int]] = {}
    for chunk in _chunks(list(subscriber_ids)):
        rows = session.execute(
            select(Feedback.subscriber_id, Feedback.paper_id, Feedback.vote).where(Feedback.subscriber_id.in_(chunk))
        )
        for subscriber_id, paper_id, vote in rows:
            votes.setdefault(subscriber_id, {})[paper_id] = vote
    return votes


# --- bounces and complaints ---------------------------------------------------------------------

SUPPRESSED = ("bounced", "complained")


def suppress_subscriber(session: Session, *, email: str, status: str, reason: str) -> bool:
    """Mark the address ``bounced`` or ``complained`` (never to be sent to again); True if it changed.

    A complaint outranks a bounce: a complained address never goes back to bounced.
    """
    if status not in SUPPRESSED:
        raise ValueError(f"suppression status must be one of {SUPPRESSED}, got {status!r}")
    keep = (status,) if status == "complained" else SUPPRESSED
    result = session.execute(
        update(Subscriber)
        .where(Subscriber.email == email, Subscriber.status.not_in(keep))
        .values(status=status, suppressed_reason=reason[:1000])
    )
    return bool(result.rowcount)


def record_soft_bounce(session: Session, *, email: str, limit: int, reason: str) -> str | None:
    """Count a soft bounce; the address is suppressed (``bounced``) at ``limit`` in a row.

    Returns "bounced" when this bounce suppressed it, "counted" when it was only counted, None for
    an address that is not a subscriber (or is suppressed already).
    """
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if subscriber is None or subscriber.status in SUPPRESSED:
        return None
    subscriber.soft_bounces = (subscriber.soft_bounces or 0) + 1
    if subscriber.soft_bounces >= limit:
        subscriber.status = "bounced"
        subscriber.suppressed_reason = f"{subscriber.soft_bounces} soft bounces in a row; last: {reason}"[:1000]
        session.flush()
        return "bounced"
    session.flush()
    return "counted"


def clear_soft_bounces(session: Session, *, subscriber_id: int) -> None:
    """A message went through: soft bounces count again from zero."""
    session.execute(
        update(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.soft_bounces > 0).values(soft_bounces=0)
    )
