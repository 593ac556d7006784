"""Interests in the store: one made from a new subscriber's topics, more added, renamed,
reordered and removed, liked papers, the limits; all of it read back in a new session."""

from __future__ import annotations

import datetime as dt

import pytest

from service.delivery.runtime import Runtime
from service.errors import InputError
from service.records import Topic
from service.storage import store
from service.storage.engine import session_scope

NOW = dt.datetime(2025, 8, 21, 9, 0, tzinfo=dt.UTC)


def _subscriber(session, topics):  # type: ignore[no-untyped-def]
    return store.add_subscriber(
        session, email="ada@example.org", status="active", timezone="UTC", delivery_hour=8,
        cadence="daily", max_papers=10, topics=topics, now=NOW,
    )  # fmt: skip


def test_interests_are_added_renamed_moved_liked_and_removed(runtime: Runtime) -> None:
    with session_scope(runtime.factory) as session:
        sub = _subscriber(
            session, [("keyword", "reinforcement learning", 1.0), ("category", "cs.CL", 1.0)]
        )
        paper = store.insert_paper(session, key="2508.00001", fields={"title": "A paper"}, now=NOW)
        session.flush()
        sid, pid = sub.id, paper.id
    with session_scope(runtime.factory) as session:
        (only,) = store.list_interests(session, subscriber_id=sid)
        assert only.name == "reinforcement learning, cs.CL"
        assert only.topics == (
            Topic("keyword", "reinforcement learning"),
            Topic("category", "cs.CL"),
        )
        sub = store.get_subscriber_by_id(session, subscriber_id=sid)
        scaling = store.add_interest(
            session, subscriber=sub, name=" Scaling  laws ", now=NOW,
            topics=[("keyword", "scaling", 2.0), Topic("exclude", "vision")], share=0.3,
        )  # fmt: skip
        store.add_interest_likes(session, interest=scaling, likes=[(pid, "A paper")] * 2, now=NOW)
        with pytest.raises(InputError, match="already an interest"):
            store.add_interest(session, subscriber=sub, name="scaling laws", now=NOW)
        with pytest.raises(InputError, match="share"):
            store.add_interest(session, subscriber=sub, name="Big", now=NOW, share=2)
    with session_scope(runtime.factory) as session:
        first, second = store.list_interests(session, subscriber_id=sid)
        assert (second.name, second.share, second.position) == ("Scaling laws", 0.3, 1)
        assert second.topics == (Topic("keyword", "scaling", 2.0), Topic("exclude", "vision"))
        assert [(lk.paper_id, lk.title) for lk in second.likes] == [(pid, "A paper")]
        sub = store.get_subscriber_by_id(session, subscriber_id=sid)
        assert len(sub.topics) == 4  # the subscriber's topics are the union of their interests'
        interest = store.get_interest(session, subscriber_id=sid, name="SCALING LAWS")
        assert store.move_interest(session, subscriber_id=sid, interest=interest, by=-1)
        assert not store.move_interest(session, subscriber_id=sid, interest=interest, by=-1)
        store.rename_interest(session, subscriber_id=sid, interest=interest, name="Scaling")
        store.replace_topics(session, subscriber=sub, topics=[("keyword", "transformers", 1.0)])
    with session_scope(runtime.factory) as session:
        names = [
            (i.name, [t.text for t in i.topics])
            for i in store.list_interests(session, subscriber_id=sid)
        ]
        # replace_topics changes the first interest only (now "Scaling": it was moved up)
        assert names == [
            ("Scaling", ["transformers"]),
            ("reinforcement learning, cs.CL", ["reinforcement learning", "cs.CL"]),
        ]
        sub = store.get_subscriber_by_id(session, subscriber_id=sid)
        interest = store.get_interest(session, subscriber_id=sid, name="Scaling")
        store.remove_interest(session, subscriber=sub, interest=interest)
    with session_scope(runtime.factory) as session:
        (left,) = store.list_interests(session, subscriber_id=sid)
        assert (left.name, left.position) == ("reinforcement learning, cs.CL", 0)
        sub = store.get_subscriber_by_id(session, subscriber_id=sid)
        assert [t.text for t in sub.topics] == ["reinforcement learning", "cs.CL"]


def test_at_most_twenty_interests_and_a_new_name_follows_new_topics(runtime: Runtime) -> None:
    with session_scope(runtime.factory) as session:
        sub = _subscriber(session, [])
        assert store.list_interests(session, subscriber_id=sub.id) == []
        store.replace_topics(session, subscriber=sub, topics=[("keyword", "graphs", 1.0)], now=NOW)
        assert [i.name for i in store.list_interests(session, subscriber_id=sub.id)] == ["graphs"]
        store.replace_topics(
            session, subscriber=sub, topics=[("keyword", "proteins", 1.0)], now=NOW
        )
        assert [i.name for i in store.list_interests(session, subscriber_id=sub.id)] == ["proteins"]
        for n in range(19):
            store.add_interest(session, subscriber=sub, name=f"interest {n}", now=NOW)
        with pytest.raises(InputError, match="at most 20 interests"):
            store.add_interest(session, subscriber=sub, name="one more", now=NOW)
        assert store.count_interests(session, subscriber_id=sub.id) == 20


def test_interest_ids_of_many_subscribers_match_each_ones_own(runtime: Runtime) -> None:
    """The batch sender reads every reader's interest ids in one query; each must get exactly
    its own (a wrong id would land "mute" or "more like this" on another interest)."""
    with session_scope(runtime.factory) as session:
        ids = []
        for n in range(3):
            sub = store.add_subscriber(
                session, email=f"r{n}@example.org", status="active", timezone="UTC",
                delivery_hour=8, cadence="daily", max_papers=10,
                topics=[("keyword", f"topic {n}", 1.0)], now=NOW,
            )  # fmt: skip
            session.flush()
            if n:
                store.add_interest(session, subscriber=sub, name=f"second {n}", now=NOW,
                                   topics=[("keyword", "graphs", 1.0)])  # fmt: skip
            ids.append(sub.id)
    with session_scope(runtime.factory) as session:
        many = store.interest_ids_of(session, subscriber_ids=[*ids, 999_999])
        assert many == {
            **{sid: store.interest_ids(session, subscriber_id=sid) for sid in ids},
            999_999: {},
        }
        assert [len(many[sid]) for sid in ids] == [1, 2, 2]


def test_interests_of_many_subscribers_are_each_ones_own_as_listed(runtime: Runtime) -> None:
    """Planning reads every reader's interests as plain rows in a few queries; each must equal
    what the ORM lists for that reader alone: order, share, topics with weights, likes."""
    with session_scope(runtime.factory) as session:
        paper = store.insert_paper(session, key="2508.00001", fields={"title": "A paper"}, now=NOW)
        other = store.insert_paper(session, key="2508.00002", fields={"title": "Two"}, now=NOW)
        ids = []
        for n in range(3):
            sub = store.add_subscriber(
                session, email=f"r{n}@example.org", status="active", timezone="UTC",
                delivery_hour=8, cadence="daily", max_papers=10,
                topics=[("keyword", f"topic {n}", 1.0), ("category", "cs.CL", 0.5)], now=NOW,
            )  # fmt: skip
            session.flush()
            if n:
                extra = store.add_interest(
                    session, subscriber=sub, name=f"second {n}", now=NOW, share=0.25,
                    topics=[("keyword", "graphs", 2.0), ("exclude", "vision", 1.0)],
                )  # fmt: skip
                likes = [(other.id, "Two"), (paper.id, "A paper")][:n]
                store.add_interest_likes(session, interest=extra, likes=likes, now=NOW)
            ids.append(sub.id)
        session.flush()
        first = store.get_interest(session, subscriber_id=ids[2], name="second 2")
        store.move_interest(session, subscriber_id=ids[2], interest=first, by=-1)
    with session_scope(runtime.factory) as session:
        many = store.interests_of(session, subscriber_ids=[*ids, 999_999])
        assert many == {sid: store.list_interests(session, subscriber_id=sid) for sid in ids}
        assert [len(many[sid]) for sid in ids] == [1, 2, 2]
        assert [lk.title for lk in many[ids[2]][0].likes] == ["Two", "A paper"]
