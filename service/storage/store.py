"""Every query Paperboy makes. Keyword-only arguments, a session first; the caller commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Text, and_, case, cast, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from service.records import Candidate
from service.storage.models import (
    Delivery,
    DeliveryItem,
    Feedback,
    HttpValidator,
    IngestRun,
    Paper,
    PaperEmbedding,
    RateLimitHit,
    Sighting,
    Subscriber,
    Topic,
)

_CHUNK = 500  # keeps IN (...) lists under SQLite's variable limit
OPEN_DELIVERY = ("pending", "deferred")
NOT_SENT = ("failed", "missed")
GIVEN = ("sent", "in_doubt")  # digests that count for the cadence (in_doubt may have arrived)


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
    session: Session,
    *,
    key: str,
    fields: dict[str, Any],
    now: dt.datetime,
    old_key: str | None = None,
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
        select(Paper)
        .order_by(Paper.first_seen.desc(), Paper.upvotes.desc().nulls_last(), Paper.id)
        .limit(limit)
    )
    return [to_candidate(p) for p in rows]


def candidates_since(session: Session, *, since: dt.datetime) -> list[Candidate]:
    """Papers first seen at or after ``since``: the pool one run ranks from."""
    rows = session.scalars(select(Paper).where(Paper.first_seen >= since).order_by(Paper.id))
    return [to_candidate(p) for p in rows]


def sources_of_papers_seen(
    session: Session, *, since: dt.datetime, until: dt.datetime
) -> list[tuple[str, ...]]:
    """The sources of each paper first seen in (since, until]: how many new papers came after
    the previous digest, and from which source (one column, for the rare empty digest)."""
    rows = session.scalars(
        select(Paper.sources).where(Paper.first_seen > since, Paper.first_seen <= until)
    )
    return [tuple(sources or ()) for sources in rows]


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


# --- arXiv categories for papers that came without them ----------------------------------------


def _no_categories() -> Any:
    # JSON has no equality in PostgreSQL: compare its text ("[]" as written, or a JSON null).
    return func.coalesce(cast(Paper.categories, Text), "[]").in_(("[]", "null"))


def arxiv_ids_without_categories(
    session: Session, *, since: dt.datetime | None = None, limit: int | None = None
) -> list[str]:
    """arXiv ids of papers without categories (first seen at or after ``since``), newest first."""
    query = select(Paper.arxiv_id).where(Paper.arxiv_id.is_not(None), _no_categories())
    if since is not None:
        query = query.where(Paper.first_seen >= since)
    query = query.order_by(Paper.first_seen.desc(), Paper.id.desc()).limit(limit)
    return list(dict.fromkeys(session.scalars(query)))


def fill_categories(session: Session, *, categories: Mapping[str, Sequence[str]]) -> int:
    """Give papers without categories theirs, by arXiv id; how many papers were filled."""
    filled = 0
    for chunk in _chunks(sorted(k for k, v in categories.items() if v)):
        rows = session.scalars(select(Paper).where(Paper.arxiv_id.in_(chunk), _no_categories()))
        for paper in rows:
            paper.categories = list(categories[paper.arxiv_id or ""])
            filled += 1
    return filled


def recent_match_counts(
    session: Session, *, since: dt.datetime, checks: Sequence[tuple[str, Sequence[str]]]
) -> tuple[int, list[int]]:
    """Papers first seen since ``since``, and how many of them each check matches, in one query.

    A check is (field, LIKE patterns, lower case, escaped with "!"): "categories" or "authors"
    match when the field's JSON text has any of the patterns; "text" when every pattern is in
    the title or the abstract.
    """

    def like(column: Any, pattern: str) -> Any:
        return func.lower(column).like(pattern, escape="!")

    columns: list[Any] = [func.count(Paper.id)]
    for field, patterns in checks:
        if field == "text":
            condition = and_(
                *(or_(like(Paper.title, p), like(Paper.abstract, p)) for p in patterns)
            )
        else:
            column = cast(Paper.categories if field == "categories" else Paper.authors, Text)
            condition = or_(*(like(column, p) for p in patterns))
        columns.append(func.coalesce(func.sum(case((condition, 1), else_=0)), 0))
    row = session.execute(select(*columns).where(Paper.first_seen >= since)).one()
    return int(row[0]), [int(n) for n in row[1:]]


def paper_embeddings(
    session: Session, *, paper_ids: Iterable[int], model: str
) -> dict[int, tuple[str, bytes]]:
    """(text hash, vector bytes) of the papers that have an embedding by ``model``."""
    found: dict[int, tuple[str, bytes]] = {}
    for chunk in _chunks(sorted(set(paper_ids))):
        rows = session.execute(
            select(PaperEmbedding.paper_id, PaperEmbedding.text_hash, PaperEmbedding.vector).where(
                PaperEmbedding.model == model, PaperEmbedding.paper_id.in_(chunk)
            )
        )
        found.update({paper_id: (digest, bytes(vector)) for paper_id, digest, vector in rows})
    return found


def save_paper_embeddings(
    session: Session, *, model: str, rows: Sequence[tuple[int, str, bytes]]
) -> None:
    """Store (paper id, text hash, vector) rows, replacing an older text's vector.

    Another process may store the same paper at the same moment: its row wins, whichever it is,
    since both are the same model's vector of the same text.
    """
    if not rows:
        return
    ids = [row[0] for row in rows]
    for chunk in _chunks(ids):
        session.execute(
            delete(PaperEmbedding).where(
                PaperEmbedding.model == model, PaperEmbedding.paper_id.in_(chunk)
            )
        )
    values = [
        {"paper_id": pid, "model": model, "text_hash": digest, "vector": vector}
        for pid, digest, vector in rows
    ]
    try:
        with session.begin_nested():
            session.execute(insert(PaperEmbedding), values)
    except IntegrityError:
        for value in values:  # a concurrent writer stored some of them first: keep theirs
            try:
                with session.begin_nested():
                    session.execute(insert(PaperEmbedding), [value])
            except IntegrityError:
                continue


# --- sightings and ingest runs ------------------------------------------------------------------


def sighting_observations(
    session: Session, *, paper_ids: Iterable[int], source: str
) -> set[tuple[Any, ...]]:
    """Every recorded (paper_id, listed_on, position, upvotes, comments, stars) of these papers from ``source``."""
    wanted = sorted(set(paper_ids))
    seen: set[tuple[Any, ...]] = set()
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(
                Sighting.paper_id,
                Sighting.listed_on,
                Sighting.position,
                Sighting.upvotes,
                Sighting.comments,
                Sighting.stars,
            ).where(Sighting.source == source, Sighting.paper_id.in_(chunk))
        )
        seen.update(tuple(row) for row in rows)
    return seen


def add_sightings(session: Session, *, rows: Iterable[dict[str, Any]]) -> int:
    objects = [Sighting(**row) for row in rows]
    session.add_all(objects)
    return len(objects)


def start_ingest_run(
    session: Session, *, source: str, input_name: str | None, now: dt.datetime
) -> IngestRun:
    run = IngestRun(source=source, input_name=input_name, started_at=now)
    session.add(run)
    session.flush()
    return run


def finish_ingest_run(
    session: Session,
    *,
    run_id: int,
    counts: dict[str, Any],
    error: str | None,
    now: dt.datetime,
    status: str | None = None,
) -> None:
    """Close a run: status is ok / failed (from ``error``) unless given (no_announcement, not_modified)."""
    values = {k: counts[k] for k in ("fetched", "new", "updated", "unchanged", "rejected")}
    values["status"] = status or ("failed" if error else "ok")
    session.execute(
        update(IngestRun)
        .where(IngestRun.id == run_id)
        .values(finished_at=now, error=error, **values)
    )


def last_clean_ingest(session: Session, *, input_name: str) -> dt.datetime | None:
    """Start time of the latest ingest of this input that finished without error."""
    return session.scalar(
        select(func.max(IngestRun.started_at)).where(
            IngestRun.input_name == input_name,
            IngestRun.finished_at.is_not(None),
            IngestRun.error.is_(None),
        )
    )


# --- subscribers --------------------------------------------------------------------------------


def get_subscriber(session: Session, *, email: str) -> Subscriber | None:
    return session.scalar(
        select(Subscriber).where(Subscriber.email == email).options(selectinload(Subscriber.topics))
    )


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
    relevance_floor: float | None = None,
    trending_share: float | None = None,
) -> Subscriber:
    """Create a subscriber with topics (kind, text, weight). Raises IntegrityError if the email exists."""
    subscriber = Subscriber(
        email=email, status=status, timezone=timezone, delivery_hour=delivery_hour, cadence=cadence,
        max_papers=max_papers, skip_empty=skip_empty, created_at=now,
        confirmed_at=now if status == "active" else None,
        relevance_floor=relevance_floor, trending_share=trending_share,
    )  # fmt: skip
    subscriber.topics = [Topic(kind=k, text=t, weight=w) for k, t, w in topics]
    session.add(subscriber)
    with session.begin_nested():
        session.flush()
    return subscriber


def ensure_subscriber(
    session: Session,
    *,
    email: str,
    timezone: str,
    delivery_hour: int,
    cadence: str,
    max_papers: int,
    now: dt.datetime,
) -> Subscriber:
    """The subscriber with this address, created ``pending`` (no topics yet) if there is none.

    The same statements run whether the address is new or known (``INSERT … ON CONFLICT DO
    NOTHING``, then one read), so neither the answer's timing nor a concurrent request for the
    same address (the unique index settles the race without an error) tells them apart.
    """
    values = {
        "email": email, "status": "pending", "timezone": timezone, "delivery_hour": delivery_hour,
        "cadence": cadence, "max_papers": max_papers, "skip_empty": False, "created_at": now, "soft_bounces": 0,
    }  # fmt: skip
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    session.execute(
        dialect_insert(Subscriber).values(**values).on_conflict_do_nothing(index_elements=["email"])
    )
    subscriber = get_subscriber(session, email=email)
    assert subscriber is not None
    return subscriber


def add_subscribers_bulk(
    session: Session, *, rows: Sequence[dict[str, Any]], now: dt.datetime
) -> list[int]:
    """Insert many subscribers at once (imports, benchmarks); each row may carry ``topics``
    as (kind, text, weight) tuples. Returns the new ids in the order of ``rows``."""
    ids: list[int] = []
    for chunk in _chunks(rows, 5000):
        values = [
            {k: v for k, v in row.items() if k != "topics"}
            | {"created_at": now, "confirmed_at": now if row.get("status") == "active" else None}
            for row in chunk
        ]
        new_ids = list(
            session.scalars(
                insert(Subscriber).returning(Subscriber.id, sort_by_parameter_order=True), values
            )
        )
        topics = [
            {"subscriber_id": sid, "kind": kind, "text": text, "weight": weight}
            for sid, row in zip(new_ids, chunk, strict=True)
            for kind, text, weight in row.get("topics", ())
        ]
        if topics:
            session.execute(insert(Topic), topics)
        ids.extend(new_ids)
    return ids


def list_subscribers(session: Session, *, status: str | None = None) -> list[Subscriber]:
    query = select(Subscriber).options(selectinload(Subscriber.topics)).order_by(Subscriber.id)
    if status is not None:
        query = query.where(Subscriber.status == status)
    return list(session.scalars(query))


def set_subscriber_status(
    session: Session, *, subscriber_id: int, status: str, only_from: Iterable[str] | None = None
) -> bool:
    """Set the status (only from one of ``only_from``, when given); True when it changed."""
    query = update(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.status != status)
    if only_from is not None:
        query = query.where(Subscriber.status.in_(tuple(only_from)))
    if status in MAILABLE:
        # A bounced or complained address is never mailed again: no path makes it mailable
        # (only ``unsuppress_subscriber``, an operator's explicit act, clears it).
        query = query.where(_not_suppressed())
    return bool(session.execute(query.values(status=status)).rowcount)


def delete_subscriber(session: Session, *, subscriber_id: int) -> None:
    session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))


def purge_subscriber(session: Session, *, subscriber_id: int) -> bool:
    """Delete the subscriber and everything about them; True when it was deleted.

    A bounced or complained address is the exception: its history, topics, votes and consent
    record go, but the row stays with its status and reason, as the record that it must never be
    mailed again (deleting it would let the subscribe form mail it). False then.
    """
    subscriber = get_subscriber_by_id(session, subscriber_id=subscriber_id)
    if subscriber is None:
        return False
    if not is_suppressed(subscriber):
        delete_subscriber(session, subscriber_id=subscriber_id)
        return True
    session.execute(delete(Delivery).where(Delivery.subscriber_id == subscriber_id))
    session.execute(delete(Feedback).where(Feedback.subscriber_id == subscriber_id))
    subscriber.topics = []
    subscriber.consent_ip = None
    subscriber.confirm_nonce = None
    subscriber.confirm_requested = None
    session.flush()
    return False


# --- deliveries ---------------------------------------------------------------------------------


def get_delivery(session: Session, *, subscriber_id: int, digest_date: dt.date) -> Delivery | None:
    return session.scalar(
        select(Delivery).where(
            Delivery.subscriber_id == subscriber_id, Delivery.digest_date == digest_date
        )
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
                DeliveryItem(
                    delivery_id=delivery.id,
                    paper_id=pid,
                    position=pos,
                    score=score,
                    reasons=reasons,
                )
                for pos, (pid, score, reasons) in enumerate(items, start=1)
            )
            session.flush()
    except IntegrityError:
        return None
    return delivery


def create_deliveries(
    session: Session,
    *,
    rows: Sequence[tuple[int, dt.date, Sequence[tuple[int, float, list[str]]]]],
    now: dt.datetime,
) -> list[int]:
    """Insert many pending deliveries (subscriber, digest date, items) in two statements; their
    ids in order. Raises IntegrityError if any exists already (the caller falls back to
    ``create_delivery`` one at a time)."""
    if not rows:
        return []
    ids = list(
        session.scalars(
            insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True),
            [
                {
                    "subscriber_id": sid,
                    "digest_date": date,
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for sid, date, _ in rows
            ],
        )
    )
    items = [
        {"delivery_id": did, "paper_id": pid, "position": pos, "score": score, "reasons": reasons}
        for did, (_, _, chosen) in zip(ids, rows, strict=True)
        for pos, (pid, score, reasons) in enumerate(chosen, start=1)
    ]
    if items:
        session.execute(insert(DeliveryItem), items)
    return ids


def claim_delivery(
    session: Session, *, delivery_id: int, now: dt.datetime, lease_until: dt.datetime
) -> bool:
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
            Delivery.subscriber_id.in_(
                select(Subscriber.id).where(Subscriber.status == "active", _not_suppressed())
            ),
        )
        .values(
            status="sending",
            attempts=Delivery.attempts + 1,
            updated_at=now,
            lease_until=lease_until,
        )
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
        session.scalars(
            select(DeliveryItem)
            .where(DeliveryItem.delivery_id == delivery_id)
            .order_by(DeliveryItem.position)
        )
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
        select(func.max(Delivery.sent_at)).where(
            Delivery.subscriber_id == subscriber_id, Delivery.status == "sent"
        )
    )


def last_digest_date(session: Session, *, subscriber_id: int) -> dt.date | None:
    return session.scalar(
        select(func.max(Delivery.digest_date)).where(
            Delivery.subscriber_id == subscriber_id, Delivery.status == "sent"
        )
    )


def delivery_attempts(session: Session, *, delivery_id: int) -> int:
    return session.scalar(select(Delivery.attempts).where(Delivery.id == delivery_id)) or 0


def recent_delivery_errors(
    session: Session, *, digest_date: dt.date | None = None, limit: int = 10
) -> list[tuple[Any, ...]]:
    """(email, digest date, status, attempts, last error) of the latest deliveries that have an error."""
    query = (
        select(
            Subscriber.email,
            Delivery.digest_date,
            Delivery.status,
            Delivery.attempts,
            Delivery.last_error,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.last_error.is_not(None))
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    if digest_date is not None:
        query = query.where(Delivery.digest_date == digest_date)
    return [tuple(row) for row in session.execute(query)]


def count_deliveries_by_status(
    session: Session, *, digest_date: dt.date | None = None
) -> dict[str, int]:
    query = select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
    if digest_date is not None:
        query = query.where(Delivery.digest_date == digest_date)
    return dict(session.execute(query).all())


# --- feedback -----------------------------------------------------------------------------------


def record_feedback(
    session: Session, *, subscriber_id: int, paper_id: int, vote: int, now: dt.datetime
) -> bool:
    """Store a subscriber's vote (+1 or -1) on a paper; a later vote replaces an earlier one.

    Returns True when the stored vote changed (a repeated click changes nothing).
    """
    if vote not in (1, -1):
        raise ValueError(f"vote must be +1 or -1, got {vote!r}")
    existing = session.scalars(
        select(Feedback).where(
            Feedback.subscriber_id == subscriber_id, Feedback.paper_id == paper_id
        )
    ).first()
    if existing is None:
        session.add(
            Feedback(subscriber_id=subscriber_id, paper_id=paper_id, vote=vote, created_at=now)
        )
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
            select(Feedback.subscriber_id, Feedback.paper_id, Feedback.vote).where(
                Feedback.subscriber_id.in_(chunk)
            )
        )
        for subscriber_id, paper_id, vote in rows:
            votes.setdefault(subscriber_id, {})[paper_id] = vote
    return votes


# --- web front: subscription requests, settings, archive, metrics ----------------------------------


def request_confirmation(
    session: Session,
    *,
    subscriber_id: int,
    nonce: str,
    requested: dict[str, Any],
    now: dt.datetime,
    interval: dt.timedelta,
) -> bool:
    """Open a confirmation (new single-use nonce, the settings it will apply) unless one was
    mailed to this subscriber within ``interval``; True when the caller may send the mail.

    One conditional UPDATE, so two concurrent requests for the same address send one mail.
    """
    result = session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.confirm_sent_at.is_(None) | (Subscriber.confirm_sent_at <= now - interval),
        )
        .values(confirm_nonce=nonce, confirm_requested=requested, confirm_sent_at=now)
    )
    return result.rowcount == 1


def confirm_subscriber(
    session: Session, *, subscriber_id: int, nonce: str, now: dt.datetime, ip: str | None
) -> Subscriber | None:
    """Apply the open confirmation with this nonce: the requested settings and topics, status
    active, consent time and IP; the nonce is spent. None when the nonce is not the open one."""
    result = session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.confirm_nonce == nonce, _not_suppressed())
        .values(
            confirm_nonce=None, status="active", confirmed_at=now, consent_ip=ip, soft_bounces=0
        )
    )
    if result.rowcount != 1:
        return None
    subscriber = get_subscriber_by_id(session, subscriber_id=subscriber_id)
    assert subscriber is not None
    session.refresh(subscriber)
    requested = subscriber.confirm_requested or {}
    subscriber.confirm_requested = None
    if "topics" in requested:
        replace_topics(
            session, subscriber=subscriber, topics=[tuple(t) for t in requested["topics"]]
        )
    for name in ("timezone", "delivery_hour", "cadence"):
        if name in requested:
            setattr(subscriber, name, requested[name])
    session.flush()
    return subscriber


def replace_topics(
    session: Session, *, subscriber: Subscriber, topics: Iterable[tuple[Any, ...]]
) -> None:
    """The subscriber's topics become exactly these (kind, text, weight)."""
    subscriber.topics = [Topic(kind=k, text=t, weight=float(w)) for k, t, w in topics]
    session.flush()


def update_subscriber(session: Session, *, subscriber_id: int, **values: Any) -> None:
    """Set delivery settings (timezone, delivery_hour, cadence, max_papers, skip_empty, status)."""
    allowed = {"timezone", "delivery_hour", "cadence", "max_papers", "skip_empty", "status"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not a subscriber setting: {sorted(unknown)}")
    session.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(**values))


def trending_papers(session: Session, *, window: dt.timedelta, limit: int = 30) -> list[Candidate]:
    """Papers first seen within ``window`` of the newest one, most upvoted first."""
    newest = session.scalar(select(func.max(Paper.first_seen)))
    if newest is None:
        return []
    rows = session.scalars(
        select(Paper)
        .where(Paper.first_seen >= newest - window)
        .order_by(Paper.upvotes.desc().nulls_last(), Paper.first_seen.desc(), Paper.id)
        .limit(limit)
    )
    return [to_candidate(p) for p in rows]


def recent_paper_terms(
    session: Session, *, since: dt.datetime
) -> list[tuple[str, list[str], list[str]]]:
    """(title, ai keywords, categories) of the papers first seen since ``since``."""
    rows = session.execute(
        select(Paper.title, Paper.ai_keywords, Paper.categories).where(Paper.first_seen >= since)
    )
    return [
        (title, list(keywords or ()), list(categories or ()))
        for title, keywords, categories in rows
    ]


def sent_digests(
    session: Session, *, subscriber_id: int, limit: int = 60
) -> list[tuple[Delivery, list[tuple[DeliveryItem, Candidate]]]]:
    """The subscriber's sent digests, newest first, each with its papers in digest order."""
    deliveries = list(
        session.scalars(
            select(Delivery)
            .where(Delivery.subscriber_id == subscriber_id, Delivery.status == "sent")
            .order_by(Delivery.digest_date.desc())
            .limit(limit)
        )
    )
    if not deliveries:
        return []
    items: dict[int, list[DeliveryItem]] = {}
    for chunk in _chunks([d.id for d in deliveries]):
        for item in session.scalars(
            select(DeliveryItem)
            .where(DeliveryItem.delivery_id.in_(chunk))
            .order_by(DeliveryItem.position)
        ):
            items.setdefault(item.delivery_id, []).append(item)
    papers = papers_by_id(session, ids=[i.paper_id for group in items.values() for i in group])
    return [
        (d, [(i, papers[i.paper_id]) for i in items.get(d.id, []) if i.paper_id in papers])
        for d in deliveries
    ]


def count_subscribers_by_status(session: Session) -> dict[str, int]:
    return dict(
        session.execute(
            select(Subscriber.status, func.count(Subscriber.id)).group_by(Subscriber.status)
        ).all()
    )


def last_ingest_per_source(
    session: Session,
) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]]:
    """Per source: (start of the latest finished run, start of the latest run without error)."""
    finished = dict(
        session.execute(
            select(IngestRun.source, func.max(IngestRun.started_at))
            .where(IngestRun.finished_at.is_not(None))
            .group_by(IngestRun.source)
        ).all()
    )
    clean = dict(
        session.execute(
            select(IngestRun.source, func.max(IngestRun.started_at))
            .where(IngestRun.finished_at.is_not(None), IngestRun.error.is_(None))
            .group_by(IngestRun.source)
        ).all()
    )
    return {
        source: (finished.get(source), clean.get(source))
        for source in sorted(set(finished) | set(clean))
    }


# --- HTTP validators and source runs ----------------------------------------------------------


def http_validators(session: Session, *, url: str) -> tuple[str | None, str | None]:
    """The (ETag, Last-Modified) ``url`` last answered with, or (None, None)."""
    row = session.execute(
        select(HttpValidator.etag, HttpValidator.last_modified).where(HttpValidator.url == url)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


def save_http_validators(
    session: Session, *, url: str, etag: str | None, last_modified: str | None, now: dt.datetime
) -> None:
    """Remember the validators of ``url``; a response without any forgets the old ones."""
    existing = session.scalar(select(HttpValidator).where(HttpValidator.url == url))
    if etag is None and last_modified is None:
        if existing is not None:
            session.delete(existing)
        return
    if existing is None:
        session.add(HttpValidator(url=url, etag=etag, last_modified=last_modified, updated_at=now))
    else:
        existing.etag, existing.last_modified, existing.updated_at = etag, last_modified, now


def ingest_runs(session: Session, *, source: str | None = None, limit: int = 50) -> list[IngestRun]:
    """The latest ingest runs, newest first, of one source or all."""
    query = (
        select(IngestRun).order_by(IngestRun.started_at.desc(), IngestRun.id.desc()).limit(limit)
    )
    if source is not None:
        query = query.where(IngestRun.source == source)
    return list(session.scalars(query))


def quiet_source_runs(session: Session, *, since: dt.datetime, until: dt.datetime) -> list[str]:
    """Sources whose runs between ``since`` and ``until`` all said "no announcement" (a quiet day)."""
    rows = session.execute(
        select(IngestRun.source, IngestRun.status).where(
            IngestRun.started_at >= since,
            IngestRun.started_at < until,
            IngestRun.finished_at.is_not(None),
        )
    ).all()
    statuses: dict[str, set[str | None]] = {}
    for source, status in rows:
        statuses.setdefault(source, set()).add(status)
    return sorted(src for src, seen in statuses.items() if seen == {"no_announcement"})


# --- ranking inputs -----------------------------------------------------------------------------


def set_ranking_preferences(
    session: Session,
    *,
    subscriber_id: int,
    relevance_floor: float | None,
    trending_share: float | None,
) -> None:
    """Set a subscriber's relevance floor and trending share (None: the service default)."""
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(relevance_floor=relevance_floor, trending_share=trending_share)
    )


def upvotes_before(
    session: Session, *, paper_ids: Iterable[int], before: dt.datetime
) -> dict[int, int]:
    """Upvotes of each paper at its latest sighting at or before ``before`` (papers sighted then).

    The difference to a paper's current upvotes is what it gained since: its trend velocity.
    """
    wanted = sorted(set(paper_ids))
    found: dict[int, tuple[dt.datetime, int]] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Sighting.paper_id, Sighting.seen_at, Sighting.upvotes).where(
                Sighting.paper_id.in_(chunk),
                Sighting.seen_at <= before,
                Sighting.upvotes.is_not(None),
            )
        )
        for paper_id, seen_at, upvotes in rows:
            if paper_id not in found or seen_at >= found[paper_id][0]:
                found[paper_id] = (seen_at, upvotes)
    return {paper_id: upvotes for paper_id, (_, upvotes) in found.items()}


def find_paper_ids(
    session: Session, *, arxiv_id: str | None = None, paper_id: int | None = None
) -> list[int]:
    """Ids of the papers with this arXiv id (without version) or this internal id."""
    query = select(Paper.id)
    if arxiv_id is not None:
        query = query.where((Paper.arxiv_id == arxiv_id) | (Paper.key == arxiv_id))
    elif paper_id is not None:
        query = query.where(Paper.id == paper_id)
    else:
        return []
    return list(session.scalars(query.order_by(Paper.id)))


# --- bounces and complaints ---------------------------------------------------------------------

SUPPRESSED = ("bounced", "complained")
MAILABLE = ("pending", "active")


def _not_suppressed() -> Any:
    """Neither bounced nor complained, nor ever marked so (an older one-click unsubscribe turned
    such addresses into ``unsubscribed`` but left the reason)."""
    return Subscriber.status.not_in(SUPPRESSED) & Subscriber.suppressed_reason.is_(None)


def is_suppressed(subscriber: Subscriber) -> bool:
    """True for an address that must never be mailed (see ``_not_suppressed``)."""
    return subscriber.status in SUPPRESSED or subscriber.suppressed_reason is not None


def unsuppress_subscriber(session: Session, *, email: str) -> str | None:
    """An operator's explicit clearing of a bounce or complaint: the address becomes
    ``unsubscribed`` (it may subscribe again, with a new confirmation). Returns the status it
    had, or None when the address is not suppressed (or not a subscriber)."""
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if subscriber is None or not is_suppressed(subscriber):
        return None
    was = subscriber.status
    if subscriber.status in SUPPRESSED:
        subscriber.status = "unsubscribed"
    subscriber.suppressed_reason = None
    subscriber.soft_bounces = 0
    session.flush()
    return was


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
        subscriber.suppressed_reason = (
            f"{subscriber.soft_bounces} soft bounces in a row; last: {reason}"[:1000]
        )
        session.flush()
        return "bounced"
    session.flush()
    return "counted"


def clear_soft_bounces(session: Session, *, subscriber_id: int) -> None:
    """A message went through: soft bounces count again from zero."""
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.soft_bounces > 0)
        .values(soft_bounces=0)
    )


def deliveries_to_queue(
    session: Session, *, ids: Sequence[int], now: dt.datetime, stale_before: dt.datetime
) -> list[int]:
    """Of these open deliveries, those a scheduler tick should hand to workers: created by this
    tick (``created_at >= now``), deferred and due for their retry, or untouched since
    ``stale_before`` (their job was lost or their worker died). A pending row still waiting in
    the queue from an earlier tick is not queued again."""
    found: list[int] = []
    for chunk in _chunks(list(ids)):
        found += session.scalars(
            select(Delivery.id).where(
                Delivery.id.in_(chunk),
                (Delivery.created_at >= now)
                | ((Delivery.status == "deferred") & (Delivery.next_attempt_at <= now))
                | (
                    Delivery.status.in_(("pending", "sending"))
                    & (Delivery.updated_at < stale_before)
                ),
            )
        ).all()
    return sorted(found)


def queue_jobs_waiting(session: Session) -> int:
    """Jobs waiting in procrastinate's queue (PostgreSQL with the delivery queue only)."""
    return int(
        session.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        ).scalar_one()
    )


def queue_status(session: Session, *, heartbeat_within_seconds: int = 60) -> dict[str, int] | None:
    """The delivery queue at a glance (procrastinate's tables), or None when it is not installed:
    jobs waiting, jobs running, and workers with a recent heartbeat."""
    if (
        session.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar_one()
        is not True
    ):
        return None
    jobs = dict(
        session.execute(
            text(
                "SELECT status::text, count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') GROUP BY status"
            )
        ).all()
    )
    workers = session.execute(
        text(
            "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => :s)"
        ),
        {"s": heartbeat_within_seconds},
    ).scalar_one()
    return {
        "waiting": int(jobs.get("todo", 0)),
        "running": int(jobs.get("doing", 0)),
        "workers": int(workers),
    }


def count_delivery_items(session: Session, *, digest_date: dt.date) -> int:
    """Papers recorded in the digests of ``digest_date`` (delivery_items rows; benchmarks)."""
    query = select(func.count(DeliveryItem.id)).join(
        Delivery, Delivery.id == DeliveryItem.delivery_id
    )
    return int(session.execute(query.where(Delivery.digest_date == digest_date)).scalar_one())


def database_activity(session: Session) -> dict[str, int]:
    """PostgreSQL's cumulative counters for this database (pg_stat_database; benchmarks):
    commits; rows inserted, updated, deleted, returned and fetched; size on disk in bytes."""
    row = session.execute(
        text(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched,"
            " pg_database_size(current_database()) FROM pg_stat_database WHERE datname = current_database()"
        )
    ).one()
    names = ("commits", "inserted", "updated", "deleted", "returned", "fetched", "bytes")
    return dict(zip(names, map(int, row), strict=True))


def planning_history(
    session: Session, *, subscriber_ids: Sequence[int]
) -> dict[int, tuple[dt.date | None, dt.datetime | None, set[int]]]:
    """For a chunk of subscribers at once: (last sent digest date, last sent time, papers sent or
    being sent), so planning does not ask three questions per subscriber."""
    history: dict[int, tuple[dt.date | None, dt.datetime | None, set[int]]] = {
        sid: (None, None, set()) for sid in subscriber_ids
    }
    for chunk in _chunks(list(subscriber_ids)):
        for sid, last_date, last_sent in session.execute(
            select(
                Delivery.subscriber_id, func.max(Delivery.digest_date), func.max(Delivery.sent_at)
            )
            .where(Delivery.subscriber_id.in_(chunk), Delivery.status.in_(GIVEN))
            .group_by(Delivery.subscriber_id)
        ):
            history[sid] = (last_date, last_sent, history[sid][2])
        for sid, paper_id in session.execute(
            select(Delivery.subscriber_id, DeliveryItem.paper_id)
            .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
            .where(Delivery.subscriber_id.in_(chunk), Delivery.status.not_in(NOT_SENT))
        ):
            history[sid][2].add(paper_id)
    return history


def deliveries_for(
    session: Session, *, keys: Iterable[tuple[int, dt.date]]
) -> dict[tuple[int, dt.date], Delivery]:
    """The deliveries of these (subscriber, digest date) pairs that exist."""
    wanted = set(keys)
    found: dict[tuple[int, dt.date], Delivery] = {}
    for chunk in _chunks(sorted({sid for sid, _ in wanted})):
        dates = {d for sid, d in wanted}
        for delivery in session.scalars(
            select(Delivery).where(
                Delivery.subscriber_id.in_(chunk), Delivery.digest_date.in_(dates)
            )
        ):
            key = (delivery.subscriber_id, delivery.digest_date)
            if key in wanted:
                found[key] = delivery
    return found


# --- rate limits ----------------------------------------------------------------------------------


def count_hit(session: Session, *, key: str, window: int, keep_after: int) -> int:
    """Count one request for ``key`` in the window starting at ``window`` (atomically, whatever
    the number of web processes) and return the window's count; forget windows before ``keep_after``."""
    session.execute(delete(RateLimitHit).where(RateLimitHit.window < keep_after))
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(RateLimitHit).values(key=key, window=window, hits=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window"], set_={"hits": RateLimitHit.hits + 1}
    ).returning(RateLimitHit.hits)
    return int(session.execute(statement).scalar_one())


# --- health -------------------------------------------------------------------------------------


def touch_database(session: Session) -> None:
    """A cheap read of every main table (the schema version, the newest row of each): raises
    when the database cannot answer or a page it reads is damaged. For ``/healthz``."""
    session.execute(text("SELECT version_num FROM alembic_version")).all()
    for table in (Subscriber, Delivery, Paper, IngestRun):
        session.execute(select(func.max(table.id))).scalar()


def integrity_problems(session: Session, *, limit: int = 5) -> list[str] | None:
    """SQLite's ``PRAGMA quick_check``: [] when the file is sound, else its first problems; None
    on other databases (PostgreSQL checks its own pages). Raises when the file cannot be read."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    rows = [str(row[0]) for row in session.execute(text(f"PRAGMA quick_check({int(limit)})"))]
    return [] if rows == ["ok"] else rows
