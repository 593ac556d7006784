"""Plain, read-only records the store returns where a caller only reads: the same attribute
names as the tables in ``models``, but frozen dataclasses built inside the store, so they can
outlive their session and cannot be written back by accident."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.records import Topic
from service.storage.models import Delivery, DeliveryItem, IngestRun, Subscriber


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    id: int
    email: str
    status: str
    timezone: str
    delivery_hour: int
    cadence: str
    max_papers: int
    skip_empty: bool
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    relevance_floor: float | None
    trending_share: float | None
    soft_bounces: int
    suppressed_reason: str | None
    topics: tuple[Topic, ...]

    @classmethod
    def of(cls, s: Subscriber) -> SubscriberRow:
        return cls(
            id=s.id, email=s.email, status=s.status, timezone=s.timezone,
            delivery_hour=s.delivery_hour, cadence=s.cadence, max_papers=s.max_papers,
            skip_empty=s.skip_empty, created_at=s.created_at, confirmed_at=s.confirmed_at,
            relevance_floor=s.relevance_floor, trending_share=s.trending_share,
            soft_bounces=s.soft_bounces, suppressed_reason=s.suppressed_reason,
            topics=tuple(Topic(t.kind, t.text, t.weight) for t in s.topics),
        )  # fmt: skip


# A subscriber only read: the live row (from a query whose callers also write) or its record.
ReadSubscriber = Subscriber | SubscriberRow


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    subscriber_id: int
    digest_date: dt.date
    status: str
    attempts: int
    message_id: str | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    lease_until: dt.datetime | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryRow:
        return cls(
            id=d.id, subscriber_id=d.subscriber_id, digest_date=d.digest_date, status=d.status,
            attempts=d.attempts, message_id=d.message_id, last_error=d.last_error,
            created_at=d.created_at, updated_at=d.updated_at, sent_at=d.sent_at,
            next_attempt_at=d.next_attempt_at, lease_until=d.lease_until,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeliveryItemRow:
    id: int
    delivery_id: int
    paper_id: int
    position: int
    score: float
    reasons: tuple[str, ...]
    interest: str | None = None

    @classmethod
    def of(cls, i: DeliveryItem) -> DeliveryItemRow:
        return cls(
            id=i.id, delivery_id=i.delivery_id, paper_id=i.paper_id, position=i.position,
            score=i.score, reasons=tuple(i.reasons or ()), interest=i.interest,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class IngestRunRow:
    id: int
    source: str
    input_name: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    fetched: int
    new: int
    updated: int
    unchanged: int
    rejected: int
    error: str | None
    status: str | None

    @classmethod
    def of(cls, r: IngestRun) -> IngestRunRow:
        return cls(
            id=r.id, source=r.source, input_name=r.input_name, started_at=r.started_at,
            finished_at=r.finished_at, fetched=r.fetched, new=r.new, updated=r.updated,
            unchanged=r.unchanged, rejected=r.rejected, error=r.error, status=r.status,
        )  # fmt: skip
