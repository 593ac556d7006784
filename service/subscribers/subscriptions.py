"""Double opt-in: a subscribe request opens a confirmation, the signed link applies it.

The answer to a subscribe request never depends on whether the address is new, pending, active
or unsubscribed: every request either opens a confirmation (and a mail goes out) or is within the
per-address mail interval (and nothing goes out). An active subscriber's settings change only
when they confirm, from the mail, that the requested topics should replace theirs.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from service.errors import InputError
from service.storage import store
from service.subscribers.ranking_levels import DEFAULT, RELEVANCE_FLOOR, TRENDING_SHARE
from service.subscribers.validation import (
    check_cadence,
    check_hour,
    normalise_email,
    parse_topic,
)
from service.timezones import check_timezone

MAX_TOPICS = 20
EMAIL_HINT = "Please enter a full email address, like name@example.org"


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    """What the subscribe form asked for, validated."""

    email: str
    topics: tuple[tuple[str, str, float], ...]
    timezone: str
    delivery_hour: int
    cadence: str

    def requested(self) -> dict[str, Any]:
        """The settings the confirmation will apply, as stored with it (JSON)."""
        return {
            "topics": [list(t) for t in self.topics],
            "timezone": self.timezone,
            "delivery_hour": self.delivery_hour,
            "cadence": self.cadence,
        }


def parse_topics(texts: list[str]) -> tuple[tuple[str, str, float], ...]:
    """Topics typed into the form (blank entries skipped, duplicates dropped); InputError names a bad one."""
    topics: list[tuple[str, str, float]] = []
    seen: set[tuple[str, str]] = set()
    for text in texts:
        if not text.strip():
            continue
        kind, topic, weight = parse_topic(text)
        if (kind, topic.lower()) in seen:
            continue
        seen.add((kind, topic.lower()))
        topics.append((kind, topic, weight))
    if len(topics) > MAX_TOPICS:
        raise InputError(f"too many topics ({len(topics)}): at most {MAX_TOPICS}")
    return tuple(topics)


def parse_hour(text: str) -> int:
    try:
        hour = int(text)
    except (TypeError, ValueError):
        raise InputError(f"invalid delivery hour {text!r}: use 0 to 23") from None
    return check_hour(hour)


def parse_subscribe_form(
    *, email: str, topics: list[str], timezone: str, hour: str, cadence: str
) -> SubscribeRequest:
    """A validated request from the form's fields; InputError says which ``field`` is wrong."""
    try:
        address = normalise_email(email) if email.strip() else ""
    except InputError:
        address = ""
    if not address:
        raise InputError(EMAIL_HINT, field="email")
    return SubscribeRequest(
        email=address,
        topics=_checked("topic", parse_topics, topics),
        timezone=_checked("timezone", check_timezone, timezone.strip()),
        delivery_hour=_checked("hour", parse_hour, hour),
        cadence=_checked("cadence", check_cadence, cadence),
    )


def _checked(name: str, check: Callable[[Any], Any], value: Any) -> Any:
    """``check(value)``, its InputError naming the form field ``name``."""
    try:
        return check(value)
    except InputError as exc:
        raise InputError(str(exc), field=name) from None


@dataclass(frozen=True, slots=True)
class OpenConfirmation:
    """A confirmation to mail: whom, its single-use nonce, and what the subscriber has now."""

    subscriber_id: int
    email: str
    nonce: str
    was_active: bool  # active or paused: the mail offers to replace their settings
    requested: dict[str, Any] = field(default_factory=dict)


def request_subscription(
    session: Session,
    *,
    request: SubscribeRequest,
    max_papers: int,
    now: dt.datetime,
    interval: dt.timedelta,
) -> OpenConfirmation | None:
    """Open a confirmation for the address; None when one was mailed within ``interval``.

    A new address becomes a ``pending`` subscriber with the requested time zone, hour and cadence;
    its topics, like a known subscriber's new settings, are applied when the confirmation is used.
    An address that complained gets nothing; one that bounced gets nothing either, until an
    operator clears it (``subscribers unsuppress``).
    """
    # The same statements for a new and a known address (nothing to time), and no error when the
    # same new address arrives twice at once. A new subscriber's topics come with the confirmation.
    subscriber = store.ensure_subscriber(
        session, email=request.email, timezone=request.timezone, delivery_hour=request.delivery_hour,
        cadence=request.cadence, max_papers=max_papers, now=now,
    )  # fmt: skip
    if store.is_suppressed(subscriber):
        # They reported our mail as spam, or it bounced: never mail them again, not even a
        # confirmation. The form's answer is the same as for everyone else: this reveals nothing.
        return None
    nonce = secrets.token_urlsafe(16)
    requested = request.requested()
    if not store.request_confirmation(
        session,
        subscriber_id=subscriber.id,
        nonce=nonce,
        requested=requested,
        now=now,
        interval=interval,
    ):
        return None
    return OpenConfirmation(
        subscriber_id=subscriber.id,
        email=subscriber.email,
        nonce=nonce,
        was_active=subscriber.status in ("active", "paused"),
        requested=requested,
    )


MAX_WEIGHT = 5.0


@dataclass(frozen=True, slots=True)
class Preferences:
    """A subscriber's settings as the manage form sets them, validated."""

    topics: tuple[tuple[str, str, float], ...]
    timezone: str
    delivery_hour: int
    cadence: str
    max_papers: int
    skip_empty: bool
    relevance_floor: float | None = None  # None: PAPERBOY_RELEVANCE_FLOOR
    trending_share: float | None = None  # None: PAPERBOY_TRENDING_SHARE


def parse_weight(text: str, row: int) -> float:
    try:
        weight = float(text) if str(text).strip() else 1.0
    except ValueError:
        raise InputError(f"topic {row}: weight {text!r} is not a number") from None
    if not 0 < weight <= MAX_WEIGHT:
        raise InputError(
            f"topic {row}: weight {weight:g} must be above 0 and at most {MAX_WEIGHT:g}"
        )
    return weight


def parse_preferences(
    *,
    texts: list[str],
    kinds: list[str],
    weights: list[str],
    removed: set[int],
    timezone: str,
    hour: str,
    cadence: str,
    max_papers: str,
    skip_empty: bool,
    relevance_floor: str = DEFAULT,
    trending_share: str = DEFAULT,
) -> Preferences:
    """Validated settings from the manage form's rows (text, kind, weight; ``removed`` row numbers
    are dropped, blank rows skipped) and fields (the ranking preferences as ``ranking_levels``
    words); InputError names the row or field that is wrong."""
    topics: list[tuple[str, str, float]] = []
    seen: set[tuple[str, str]] = set()
    for number, text in enumerate(texts, start=1):
        if number in removed or not text.strip():
            continue
        kind = kinds[number - 1] if number <= len(kinds) else "keyword"
        weight = parse_weight(weights[number - 1] if number <= len(weights) else "1", number)
        try:
            topic = parse_topic(text, kind=kind, weight=weight)
        except InputError as exc:
            raise InputError(f"topic {number}: {exc}") from None
        if (topic[0], topic[1].lower()) not in seen:
            seen.add((topic[0], topic[1].lower()))
            topics.append(topic)
    if len(topics) > MAX_TOPICS:
        raise InputError(f"too many topics ({len(topics)}): at most {MAX_TOPICS}")
    try:
        most = int(max_papers)
    except (TypeError, ValueError):
        raise InputError(f"invalid number of papers {max_papers!r}: use 1 to 50") from None
    if not 1 <= most <= 50:
        raise InputError(f"invalid number of papers {most}: use 1 to 50")
    return Preferences(
        topics=tuple(topics),
        timezone=check_timezone(timezone.strip()),
        delivery_hour=parse_hour(hour),
        cadence=check_cadence(cadence),
        max_papers=most,
        skip_empty=skip_empty,
        relevance_floor=RELEVANCE_FLOOR.parse(relevance_floor),
        trending_share=TRENDING_SHARE.parse(trending_share),
    )
