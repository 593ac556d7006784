"""Many subscribers' interests at once, as plain rows: what planning reads for a chunk of
readers (their topics, weights, shares and liked papers), in three queries a chunk instead of
ORM objects with selectin loads, which cost planning more than ranking the interests did."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.records import Topic as TopicRecord
from service.storage._common import chunks
from service.storage.interests import InterestLikeRow, InterestRow
from service.storage.models import Interest, InterestLike, Topic


def interests_of(
    session: Session, *, subscriber_ids: Sequence[int]
) -> dict[int, list[InterestRow]]:
    """Interests of many subscribers at once (planning), in digest order, each equal to what
    ``list_interests`` gives for that subscriber; subscribers with none are absent."""
    found: dict[int, list[InterestRow]] = {}
    for chunk in chunks(list(subscriber_ids)):
        heads = session.execute(
            select(
                Interest.id, Interest.subscriber_id, Interest.name, Interest.position,
                Interest.share, Interest.created_at,
            )
            .where(Interest.subscriber_id.in_(chunk))
            .order_by(Interest.subscriber_id, Interest.position, Interest.id)
        ).all()  # fmt: skip
        ids = [head.id for head in heads]
        topics: dict[int, list[TopicRecord]] = {}
        likes: dict[int, list[InterestLikeRow]] = {}
        for part in chunks(ids):
            query = select(Topic.interest_id, Topic.kind, Topic.text, Topic.weight)
            for iid, kind, text, weight in session.execute(
                query.where(Topic.interest_id.in_(part)).order_by(Topic.id)
            ):
                topics.setdefault(iid, []).append(TopicRecord(kind, text, weight))
            like = InterestLike
            for row in session.execute(
                select(like.id, like.interest_id, like.paper_id, like.title, like.added_at)
                .where(like.interest_id.in_(part))
                .order_by(like.id)
            ):
                likes.setdefault(row.interest_id, []).append(InterestLikeRow(*row))
        for head in heads:
            found.setdefault(head.subscriber_id, []).append(
                InterestRow(*head, tuple(topics.get(head.id, ())), tuple(likes.get(head.id, ())))
            )
    return found
