"""A limit of requests per key and hour (the client IP on the subscribe form), counted in the
database so that every web process shares it and a restart does not reset it.

Fixed windows (``seconds`` long, aligned to the epoch): at most ``limit`` requests per key in each.
The key is stored as an HMAC of the IP with the site's secret, never the IP itself, and rows of
past windows are deleted as new requests come. The limit per address lives in the database too
(subscribers.confirm_sent_at).
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session, sessionmaker

from service.storage import store
from service.storage.engine import session_scope


class DatabaseWindow:
    def __init__(
        self, factory: sessionmaker[Session], *, limit: int, seconds: int, secret: str
    ) -> None:
        self.factory = factory
        self.limit = limit
        self.seconds = seconds
        self._secret = secret.encode("utf-8")

    def key_of(self, key: str) -> str:
        return hmac.new(self._secret, key.encode("utf-8"), hashlib.sha256).hexdigest()

    def allow(self, key: str, now: float) -> bool:
        """Count a hit for ``key`` at ``now`` (seconds since the epoch); whether it is within the limit."""
        window = int(now // self.seconds) * self.seconds
        with session_scope(self.factory) as session:
            hits = store.count_hit(session, key=self.key_of(key), window=window, keep_after=window)
        return hits <= self.limit
