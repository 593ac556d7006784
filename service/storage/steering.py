"""Queries of steering from the email: an exclude topic added by a "mute" or "not interested" link.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from service.storage.interests import add_interest_topic, first_interest, get_interest_by_id
from service.storage.models import Subscriber


def add_exclude_topic(
    session: Session, *, subscriber: Subscriber, text: str, interest_id: int | None = None,
    now: dt.datetime,
) -> tuple[str, bool]:  # fmt: skip
    """Add ``exclude:<text>`` to the interest ``interest_id`` of the subscriber (their first
    interest when it is None or no longer theirs). Returns (the interest's name, whether it
    was added: False when the interest already had it)."""
    interest = None
    if interest_id is not None:
        interest = get_interest_by_id(session, subscriber_id=subscriber.id, interest_id=interest_id)
    if interest is None:
        interest = first_interest(session, subscriber=subscriber, now=now)
    added = add_interest_topic(
        session, subscriber=subscriber, interest=interest, kind="exclude", text=text
    )
    return interest.name, added
