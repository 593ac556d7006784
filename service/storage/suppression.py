"""Queries of addresses that must never be mailed: bounced and complained subscribers, soft
bounces counted towards suppression, and the operator's explicit clearing.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.storage._common import SUPPRESSED
from service.storage.models import Subscriber


def is_suppressed(subscriber: Subscriber) -> bool:
    """True for an address that must never be mailed (see ``_common.not_suppressed``)."""
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
        .values(status=status, suppressed_reason=reason[:1000], next_due_at=None)
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
