"""Queries of steering from the email: an exclude topic added by a "mute" or "not interested" link.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.storage.models import Subscriber, Topic


def add_exclude_topic(session: Session, *, subscriber: Subscriber, text: str) -> bool:
    """Add ``exclude:<text>`` to the subscriber's topics; False when it is already there."""
    if any(t.kind == "exclude" and t.text.casefold() == text.casefold() for t in subscriber.topics):
        return False
    subscriber.topics.append(Topic(kind="exclude", text=text, weight=1.0))
    session.flush()
    return True
