"""Settings of delivery: when digests go out, and how the scheduler and workers send them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from service.errors import InputError
from service.timezones import check_timezone


class DeliverySettings(BaseModel):
    """The default delivery time of new subscribers, the scheduler's ticks, leases, retries and
    the delivery queue (procrastinate needs PostgreSQL: checked in ``core``)."""

    default_timezone: str = Field(
        "UTC", description="Time zone of subscribers added without one (IANA name)."
    )
    default_hour: int = Field(
        8, ge=0, le=23, description="Local hour of delivery for subscribers added without one."
    )
    delivery_interval_seconds: int = Field(
        300, ge=10, description="Seconds between delivery ticks of the scheduler."
    )
    delivery_deadline_hours: int = Field(
        6,
        ge=1,
        le=23,
        description="A digest not sent within this many hours after its delivery hour is recorded as missed, not sent late.",
    )
    lease_seconds: int = Field(
        900,
        ge=1,
        description="How long a claim on a delivery lasts; a claim older than this (its process died) is taken over.",
    )
    retry_base_seconds: int = Field(
        300,
        ge=1,
        description="First retry delay of a deferred delivery; doubles with every attempt.",
    )
    retry_max_attempts: int = Field(
        5, ge=1, description="Attempts before a deferred delivery is marked failed."
    )
    delivery_queue: Literal["inline", "procrastinate"] = Field(
        "inline",
        description="`inline` sends due digests in the scheduler's process; `procrastinate` (PostgreSQL only) fans them out as jobs to `paperboy worker` processes on any number of machines.",
    )
    delivery_batch_size: int = Field(
        200,
        ge=1,
        le=10000,
        description="Deliveries per job when the delivery queue is `procrastinate`.",
    )
    send_claim_batch: int = Field(
        100,
        ge=1,
        le=1000,
        description="Deliveries a sender claims in one statement, builds, sends and records together; also the most messages a crash can leave sent but unrecorded per sender.",
    )
    send_record_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Outcomes of a claimed batch still sending are written at least this often (one transaction each); the whole batch is written before the next claim.",
    )
    delivery_retention_days: int = Field(
        62,
        ge=1,
        description="Finished digests (their papers and delivery record) older than this many days are pruned daily and by `paperboy db prune`; never less than the widest candidate window plus two days, so no paper is sent twice.",
    )
    worker_concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="Jobs (batches of deliveries) a `paperboy worker` process runs at once. One batch already sends over all `PAPERBOY_SMTP_CONNECTIONS` while its next messages are built; more jobs in one process share its one core (2 cost about 5 % more CPU per message and overlap the waits between batches: +0–7 % messages/s, within the noise), so run more worker processes instead, and raise this only to hide a relay tens of milliseconds away.",
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            return check_timezone(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
