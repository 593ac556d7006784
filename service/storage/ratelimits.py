"""Queries of the web front's rate limit: requests counted per key and window in the database,
shared by every web process.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from service.storage._common import dialect_insert
from service.storage.models import RateLimitHit


def count_hit(session: Session, *, key: str, window: int, keep_after: int) -> int:
    """Count one request for ``key`` in the window starting at ``window`` (atomically, whatever
    the number of web processes) and return the window's count; forget windows before ``keep_after``."""
    session.execute(delete(RateLimitHit).where(RateLimitHit.window < keep_after))
    statement = dialect_insert(session, RateLimitHit).values(key=key, window=window, hits=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window"], set_={"hits": RateLimitHit.hits + 1}
    ).returning(RateLimitHit.hits)
    return int(session.execute(statement).scalar_one())
