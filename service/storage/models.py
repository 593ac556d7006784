"""SQLAlchemy 2 tables of the data model (design §3). No queries here: see store.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names so that migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: object
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # arXiv id, or "title:<normalised>"
    arxiv_id: Mapped[str | None] = mapped_column(String(40), index=True)
    arxiv_version: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    author_count: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[dt.date | None] = mapped_column(Date)
    abstract_url: Mapped[str | None] = mapped_column(Text)
    pdf_url: Mapped[str | None] = mapped_column(Text)
    code_url: Mapped[str | None] = mapped_column(Text)
    project_url: Mapped[str | None] = mapped_column(Text)
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    ai_summary: Mapped[str | None] = mapped_column(Text)
    ai_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    upvotes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    stars: Mapped[int | None] = mapped_column(Integer)


class Sighting(Base):
    __tablename__ = "sightings"
    __table_args__ = (Index("ix_sightings_paper_source_seen", "paper_id", "source", "seen_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(40))
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    listed_on: Mapped[dt.date | None] = mapped_column(Date)
    position: Mapped[int | None] = mapped_column(Integer)
    upvotes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    stars: Mapped[int | None] = mapped_column(Integer)


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    delivery_hour: Mapped[int] = mapped_column(Integer, default=8)
    cadence: Mapped[str] = mapped_column(String(10), default="daily")
    max_papers: Mapped[int] = mapped_column(Integer, default=10)
    skip_empty: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    consent_ip: Mapped[str | None] = mapped_column(String(64))
    # The open confirmation: its single-use nonce, the settings it will apply, when it was mailed.
    confirm_nonce: Mapped[str | None] = mapped_column(String(64))
    confirm_requested: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confirm_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Ranking preferences; None means the service default (settings).
    relevance_floor: Mapped[float | None] = mapped_column(Float)
    trending_share: Mapped[float | None] = mapped_column(Float)
    # Soft bounces since the last successful send; at PAPERBOY_SOFT_BOUNCE_LIMIT → bounced.
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    suppressed_reason: Mapped[str | None] = mapped_column(Text)  # why bounced / complained
    # When the planner next looks at this subscriber (UTC): the delivery moment of their next
    # digest, DUE_NOW after a change of hour, time zone, cadence or status (the next tick works it
    # out), NULL while not active (never due). Indexed: a tick reads only who is due.
    next_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)

    topics: Mapped[list[Topic]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="Topic.id"
    )
    interests: Mapped[list[Interest]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        order_by="(Interest.position, Interest.id)",
    )


class Interest(Base):
    """One named interest of a subscriber: its own topics, liked papers and share of the digest."""

    __tablename__ = "interests"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "name", name="uq_interests_subscriber_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)  # order in the digest, 0 first
    share: Mapped[float | None] = mapped_column(Float)  # of max_papers; None: an equal share
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    subscriber: Mapped[Subscriber] = relationship(back_populates="interests")
    topics: Mapped[list[Topic]] = relationship(
        back_populates="interest", order_by="Topic.id", overlaps="topics", passive_deletes=True
    )
    likes: Mapped[list[InterestLike]] = relationship(
        cascade="all, delete-orphan", order_by="InterestLike.id"
    )


class InterestLike(Base):
    """A paper the reader likes for one interest: similar papers rank higher."""

    __tablename__ = "interest_likes"
    __table_args__ = (
        UniqueConstraint("interest_id", "paper_id", name="uq_interest_likes_interest_paper"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interest_id: Mapped[int] = mapped_column(
        ForeignKey("interests.id", ondelete="CASCADE"), index=True
    )
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)  # as the reader will see it in "like <title>"
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # keyword, category, author, exclude
    text: Mapped[str] = mapped_column(String(300))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    # The interest it belongs to (of the same subscriber); every topic has one since 0012.
    interest_id: Mapped[int] = mapped_column(
        ForeignKey("interests.id", ondelete="CASCADE"), index=True
    )

    subscriber: Mapped[Subscriber] = relationship(back_populates="topics", overlaps="topics")
    interest: Mapped[Interest] = relationship(back_populates="topics", overlaps="subscriber,topics")


# The deliveries still on their way, indexed by status: a partial index, so a query for sent
# ones (a subscriber's last digest) can never walk it, however old the planner's statistics.
OPEN_STATUSES = "status IN ('pending', 'deferred', 'sending')"


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "digest_date", name="uq_deliveries_subscriber_date"),
        Index(
            "ix_deliveries_open",
            "status",
            postgresql_where=text(OPEN_STATUSES),
            sqlite_where=text(OPEN_STATUSES),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    digest_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # while status is sending


class DeliveryItem(Base):
    __tablename__ = "delivery_items"
    __table_args__ = (
        UniqueConstraint("delivery_id", "paper_id", name="uq_delivery_items_delivery_paper"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Looked up through uq_delivery_items_delivery_paper (delivery_id leads): no index of its own.
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The interest it was picked for, by name as of the send (None: the subscriber had one).
    interest: Mapped[str | None] = mapped_column(String(100))


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "paper_id", name="uq_feedback_subscriber_paper"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    vote: Mapped[int] = mapped_column(Integer)  # +1 or -1
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    input_name: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # ok, failed, no_announcement (an arXiv quiet day), not_modified (HTTP 304); NULL before 0005
    status: Mapped[str | None] = mapped_column(String(20))


class HttpValidator(Base):
    """The ETag / Last-Modified a URL last answered with, for conditional requests."""

    __tablename__ = "http_validators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PaperEmbedding(Base):
    """A paper's sentence embedding (float32 little-endian bytes) for one model and text."""

    __tablename__ = "paper_embeddings"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))  # of the embedded text: a revision re-embeds
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class RateLimitHit(Base):
    """Requests counted per key (a keyed hash of a client IP) and fixed window, shared by every
    web process; rows of past windows are deleted as new ones come."""

    __tablename__ = "rate_limit_hits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window: Mapped[int] = mapped_column(
        Integer, primary_key=True, index=True
    )  # start, epoch seconds
    hits: Mapped[int] = mapped_column(Integer, default=0)


# "Look at this subscriber at the next tick": earlier than any tick, so always due.
DUE_NOW = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# The settings a subscriber's next due time depends on.
DUE_FIELDS = ("status", "timezone", "delivery_hour", "cadence")


def due_mark(status: str) -> dt.datetime | None:
    """The next due time a subscriber gets when their delivery settings or status change."""
    return DUE_NOW if status == "active" else None


@event.listens_for(Subscriber, "before_insert")
def _due_on_insert(_mapper: object, _connection: object, target: Subscriber) -> None:
    if target.next_due_at is None:
        target.next_due_at = due_mark(target.status or "pending")


@event.listens_for(Subscriber, "before_update")
def _due_on_change(_mapper: object, _connection: object, target: Subscriber) -> None:
    state = inspect(target)
    if any(state.attrs[name].history.has_changes() for name in DUE_FIELDS):
        target.next_due_at = due_mark(target.status)
