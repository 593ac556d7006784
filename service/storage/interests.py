"""Queries of interests: a subscriber's named interests (their order, share and topics) and the
papers they like for each.

Every topic belongs to one interest of its subscriber (``topics.interest_id``). A subscriber has
at most ``MAX_INTERESTS`` interests, with names unique per subscriber, and at most ``MAX_LIKES``
liked papers per interest; going over either raises ``InputError`` naming the limit.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service.errors import InputError
from service.records import Topic as TopicRecord
from service.storage._common import chunks, one_of
from service.storage.models import Interest, InterestLike, Subscriber, Topic

MAX_INTERESTS = 20
MAX_LIKES = 500
NAME_CHARS = 60  # an interest's name at most; a generated name is cut at a comma before it
DEFAULT_NAME = "My papers"  # the name of an interest made without topics


@dataclass(frozen=True, slots=True)
class InterestLikeRow:
    id: int
    interest_id: int
    paper_id: int
    title: str
    added_at: dt.datetime


@dataclass(frozen=True, slots=True)
class InterestRow:
    id: int
    subscriber_id: int
    name: str
    position: int
    share: float | None
    created_at: dt.datetime
    topics: tuple[TopicRecord, ...]
    likes: tuple[InterestLikeRow, ...]

    @classmethod
    def of(cls, i: Interest) -> InterestRow:
        return cls(
            id=i.id, subscriber_id=i.subscriber_id, name=i.name, position=i.position,
            share=i.share, created_at=i.created_at,
            topics=tuple(TopicRecord(t.kind, t.text, t.weight) for t in i.topics),
            likes=tuple(
                InterestLikeRow(lk.id, lk.interest_id, lk.paper_id, lk.title, lk.added_at)
                for lk in i.likes
            ),
        )  # fmt: skip


def name_from_topics(topics: Iterable[tuple[Any, ...] | TopicRecord]) -> str:
    """A name for an interest made from topics: the positive topics' words, e.g.
    "reinforcement learning, cs.CL", cut at a comma to at most ``NAME_CHARS`` characters."""
    parts: list[str] = []
    for topic in topics:
        kind, text = (topic.kind, topic.text) if isinstance(topic, TopicRecord) else topic[:2]
        if kind != "exclude" and text and text not in parts:
            parts.append(str(text))
    return clip_name(", ".join(parts)) or DEFAULT_NAME


def clip_name(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= NAME_CHARS:
        return text
    cut = text[: NAME_CHARS - 1]
    if ", " in cut:
        cut = cut[: cut.rindex(", ")]
    return cut.rstrip(" ,") + "…"


def check_name(name: str) -> str:
    """The name cleaned (spaces collapsed), or InputError naming the problem."""
    clean = " ".join(str(name).split())
    if not clean:
        raise InputError("interest name: must not be empty", field="name")
    if len(clean) > NAME_CHARS:
        raise InputError(
            f"interest name {clean[:20]!r}…: longer than {NAME_CHARS} characters", field="name"
        )
    return clean


def _interests(session: Session, subscriber_id: int) -> list[Interest]:
    return list(
        session.scalars(
            select(Interest)
            .where(Interest.subscriber_id == subscriber_id)
            .options(selectinload(Interest.topics), selectinload(Interest.likes))
            .order_by(Interest.position, Interest.id)
        )
    )


def list_interests(session: Session, *, subscriber_id: int) -> list[InterestRow]:
    """The subscriber's interests in digest order, with their topics and liked papers."""
    return [InterestRow.of(i) for i in _interests(session, subscriber_id)]


def get_interest(session: Session, *, subscriber_id: int, name: str) -> Interest | None:
    """The subscriber's interest with this name (spaces collapsed, case-insensitive)."""
    wanted = " ".join(str(name).split()).casefold()
    for interest in _interests(session, subscriber_id):
        if interest.name.casefold() == wanted:
            return interest
    return None


def interest_ids(session: Session, *, subscriber_id: int) -> dict[str, int]:
    """The subscriber's interests, name → id (the digest's links name a pick's interest)."""
    query = select(Interest.name, Interest.id).where(Interest.subscriber_id == subscriber_id)
    return {name: interest_id for name, interest_id in session.execute(query)}


def interest_ids_of(
    session: Session, *, subscriber_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """``interest_ids`` of many subscribers in one query a chunk: subscriber → name → id."""
    found: dict[int, dict[str, int]] = {sid: {} for sid in subscriber_ids}
    for chunk in chunks(sorted(set(subscriber_ids))):
        query = select(Interest.subscriber_id, Interest.name, Interest.id).where(
            one_of(session, Interest.subscriber_id, chunk)
        )
        for sid, name, interest_id in session.execute(query).all():
            found[sid][name] = interest_id
    return found


def get_interest_by_id(
    session: Session, *, subscriber_id: int, interest_id: int
) -> Interest | None:
    """The interest with this id if it is this subscriber's (so a link cannot reach another's)."""
    interest = session.get(Interest, interest_id)
    if interest is None or interest.subscriber_id != subscriber_id:
        return None
    return interest


def _topics_for(
    subscriber: Subscriber, interest: Interest, topics: Iterable[tuple[Any, ...] | TopicRecord]
) -> list[Topic]:
    """New topic rows of this (flushed) interest, to be put in ``subscriber.topics``."""
    made = []
    for topic in topics:
        if isinstance(topic, TopicRecord):
            kind, text, weight = topic.kind, topic.text, topic.weight
        else:
            kind, text, weight = (tuple(topic) + (1.0,))[:3]
        made.append(
            Topic(
                kind=kind, text=text, weight=float(weight), subscriber_id=subscriber.id,
                interest_id=interest.id,
            )
        )  # fmt: skip
    return made


def add_interest(
    session: Session,
    *,
    subscriber: Subscriber,
    name: str,
    now: dt.datetime,
    topics: Iterable[tuple[Any, ...] | TopicRecord] = (),
    share: float | None = None,
) -> Interest:
    """A new interest at the end of the subscriber's list, with these (kind, text, weight)
    topics. InputError when the name is taken or the subscriber has ``MAX_INTERESTS``."""
    clean = check_name(name)
    existing = _interests(session, subscriber.id) if subscriber.id is not None else []
    if len(existing) >= MAX_INTERESTS:
        raise InputError(
            f"interest {clean!r}: at most {MAX_INTERESTS} interests per subscriber; "
            "remove one first",
            field="name",
        )
    if any(i.name.casefold() == clean.casefold() for i in existing):
        raise InputError(
            f"interest {clean!r}: there is already an interest with that name", field="name"
        )
    _check_share(share)
    position = max((i.position for i in existing), default=-1) + 1
    interest = Interest(name=clean, position=position, share=share, created_at=now)
    subscriber.interests.append(interest)
    session.flush()
    subscriber.topics.extend(_topics_for(subscriber, interest, topics))
    session.flush()
    session.expire(interest, ["topics"])
    return interest


def _check_share(share: float | None) -> None:
    if share is not None and not 0 < share <= 1:
        raise InputError(
            f"share {share}: must be above 0 and at most 1 (of the digest)", field="share"
        )


def first_interest(session: Session, *, subscriber: Subscriber, now: dt.datetime) -> Interest:
    """The subscriber's first interest, made (named after their topics) if they have none."""
    interests = _interests(session, subscriber.id) if subscriber.id is not None else []
    if interests:
        return interests[0]
    interest = Interest(
        name=name_from_topics([(t.kind, t.text) for t in subscriber.topics]), position=0,
        created_at=now,
    )  # fmt: skip
    subscriber.interests.append(interest)
    session.flush()
    for topic in subscriber.topics:
        topic.interest_id = interest.id
    session.flush()
    session.expire(interest, ["topics"])
    return interest


def set_interest_topics(
    session: Session,
    *,
    subscriber: Subscriber,
    interest: Interest,
    topics: Iterable[tuple[Any, ...] | TopicRecord],
) -> None:
    """The interest's topics become exactly these (kind, text, weight). An interest still named
    after its old topics is renamed after the new ones (unless another interest has that name)."""
    old_name = name_from_topics([(t.kind, t.text) for t in interest.topics])
    new_topics = _topics_for(subscriber, interest, topics)
    subscriber.topics = [t for t in subscriber.topics if t.interest_id != interest.id] + new_topics
    session.flush()
    session.expire(interest, ["topics"])
    if interest.name == old_name:
        name = name_from_topics([(t.kind, t.text) for t in new_topics])
        taken = {
            i.name.casefold() for i in _interests(session, subscriber.id) if i.id != interest.id
        }
        if name.casefold() not in taken:
            interest.name = name
    session.flush()


def add_interest_topic(
    session: Session,
    *,
    subscriber: Subscriber,
    interest: Interest,
    kind: str,
    text: str,
    weight: float = 1.0,
) -> bool:
    """Add one topic to the interest; False when it already has that kind and text."""
    if any(t.kind == kind and t.text.casefold() == text.casefold() for t in interest.topics):
        return False
    subscriber.topics.extend(_topics_for(subscriber, interest, [(kind, text, weight)]))
    session.flush()
    session.expire(interest, ["topics"])
    return True


def remove_interest_topic(
    session: Session, *, subscriber: Subscriber, interest: Interest, kind: str, text: str
) -> bool:
    """Remove the interest's topic of this kind and text; False when it had none."""
    keep = [
        t for t in subscriber.topics
        if not (t.interest_id == interest.id and t.kind == kind and t.text.casefold() == text.casefold())
    ]  # fmt: skip
    if len(keep) == len(subscriber.topics):
        return False
    subscriber.topics = keep
    session.flush()
    session.expire(interest, ["topics"])
    return True


def rename_interest(session: Session, *, subscriber_id: int, interest: Interest, name: str) -> None:
    clean = check_name(name)
    for other in _interests(session, subscriber_id):
        if other.id != interest.id and other.name.casefold() == clean.casefold():
            raise InputError(
                f"interest {clean!r}: there is already an interest with that name", field="name"
            )
    interest.name = clean
    session.flush()


def set_interest_share(session: Session, *, interest: Interest, share: float | None) -> None:
    _check_share(share)
    interest.share = share
    session.flush()


def remove_interest(session: Session, *, subscriber: Subscriber, interest: Interest) -> None:
    """Delete the interest with its topics and liked papers."""
    subscriber.topics = [t for t in subscriber.topics if t.interest_id != interest.id]
    subscriber.interests = [i for i in subscriber.interests if i.id != interest.id]
    session.flush()
    _renumber(session, subscriber.id)


def move_interest(session: Session, *, subscriber_id: int, interest: Interest, by: int) -> bool:
    """Move the interest ``by`` places (-1: up, +1: down); False when it is already at that end."""
    interests = _interests(session, subscriber_id)
    index = next(n for n, i in enumerate(interests) if i.id == interest.id)
    target = index + by
    if not 0 <= target < len(interests) or by == 0:
        return False
    interests.insert(target, interests.pop(index))
    for position, item in enumerate(interests):
        item.position = position
    session.flush()
    return True


def _renumber(session: Session, subscriber_id: int) -> None:
    for position, item in enumerate(_interests(session, subscriber_id)):
        item.position = position
    session.flush()


def add_interest_likes(
    session: Session, *, interest: Interest, likes: Iterable[tuple[int, str]], now: dt.datetime
) -> int:
    """Like these (paper_id, title) papers for the interest; papers it already likes are left
    as they are. Returns how many were added; InputError (nothing added) past ``MAX_LIKES``."""
    have = {lk.paper_id for lk in interest.likes}
    new = {}
    for paper_id, title in likes:
        if paper_id not in have and paper_id not in new:
            new[paper_id] = title
    if len(have) + len(new) > MAX_LIKES:
        raise InputError(
            f"interest {interest.name!r}: at most {MAX_LIKES} liked papers "
            f"(it has {len(have)}, {len(new)} more given)",
            field="likes",
        )
    for paper_id, title in new.items():
        interest.likes.append(InterestLike(paper_id=paper_id, title=title, added_at=now))
    session.flush()
    return len(new)


def remove_interest_like(session: Session, *, interest: Interest, paper_id: int) -> bool:
    """Stop liking a paper for the interest; False when it was not liked."""
    before = len(interest.likes)
    interest.likes = [lk for lk in interest.likes if lk.paper_id != paper_id]
    session.flush()
    return len(interest.likes) != before


def count_interests(session: Session, *, subscriber_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Interest.id)).where(Interest.subscriber_id == subscriber_id)
        )
        or 0
    )
