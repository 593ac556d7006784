"""Which subscribers a planning run looks at, streamed in chunks (keyset by id, one chunk in
memory at a time): those due by their stored next due time (``subscribers.next_due_at``, indexed,
so a tick with nothing due is one indexed query whatever the population), and those with a
delivery to resume (a retry due, a lease run out, a pending row). ``send --only`` and ``send
--date`` look past the next due time (the rules in ``planning`` still decide).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy.orm import sessionmaker

from service.storage import store
from service.storage.engine import session_scope
from service.storage.rows import SubscriberRow

# A chunk: (subscriber, the next due time read with them; planning stores the new one only if
# it is still this one, so a settings change meanwhile wins).
Chunk = list[tuple[SubscriberRow, dt.datetime | None]]


def due_chunks(
    factory: sessionmaker,
    *,
    now: dt.datetime,
    size: int,
    only: str | None = None,
    everyone: bool = False,
    pending_before: dt.datetime | None = None,
) -> Iterator[Chunk]:
    """The chunks of subscribers to plan. ``pending_before``: with a delivery queue, a pending
    row younger than this waits in the queue and does not make its subscriber due."""
    if only is not None or everyone:
        yield from _keyset(factory, now=now, size=size, email=only, everyone=everyone)
        return
    with session_scope(factory) as session:
        resumable = store.resumable_subscriber_ids(session, now=now, pending_before=pending_before)
    seen: set[int] = set()
    for start in range(0, len(resumable), size):
        with session_scope(factory) as session:
            ids = resumable[start : start + size]
            chunk = store.due_subscribers(session, now=now, after_id=0, limit=size, ids=ids)
        seen.update(s.id for s, _ in chunk)
        if chunk:
            yield chunk
    for chunk in _keyset(factory, now=now, size=size):
        chunk = [(s, due) for s, due in chunk if s.id not in seen]
        if chunk:
            yield chunk


def _keyset(
    factory: sessionmaker,
    *,
    now: dt.datetime,
    size: int,
    email: str | None = None,
    everyone: bool = False,
) -> Iterator[Chunk]:
    after = 0
    while True:
        with session_scope(factory) as session:
            chunk = store.due_subscribers(
                session, now=now, after_id=after, limit=size, email=email, everyone=everyone
            )
        if not chunk:
            return
        yield chunk
        after = chunk[-1][0].id
