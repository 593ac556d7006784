"""Personal links: the row id a signed link's payload names, and hiding a link's token in logs."""

from __future__ import annotations

import re
from typing import Any

from service.subscribers.tokens import TokenError

MAX_ID = 2**31 - 1  # the largest id a row can have on every supported database


def id_in(payload: dict[str, Any], key: str = "s") -> int:
    """The row id ``key`` of a signed token's payload; TokenError unless it is a positive integer.

    A token signed with our key may still carry the wrong type (a string, a list, a huge number):
    it is then a bad link (400), never a server error.
    """
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise TokenError("this link is not valid")
    return value


_TOKEN_PATH = re.compile(
    r"/(confirm|manage|unsubscribed|unsubscribe|feedback|steer|archive|feed|preview)/[A-Za-z0-9_.=-]+"
)


def redact_paths(text: str) -> str:
    """Hide the signed token in a path such as ``/manage/<token>`` (for access logs)."""
    return _TOKEN_PATH.sub(r"/\1/…", text)
