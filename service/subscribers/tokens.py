"""Signed, expiring tokens for the links in emails (confirm, manage, unsubscribe, feedback,
steer).

Each purpose has its own salt, so a token made for one purpose never opens another, and its own
lifetime. Extra keys (``fallback_keys``) still verify tokens signed before a secret rotation.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service.errors import PaperboyError

DAY = 86_400
LIFETIME = {
    "confirm": 2 * DAY,
    "manage": 90 * DAY,
    "unsubscribe": 90 * DAY,
    "feedback": 90 * DAY,
    "steer": 90 * DAY,  # "mute this author", "not interested in …": a page, then a POST
    "feed": 3650 * DAY,  # an Atom feed URL lives in a feed reader; it only reads the archive
    "csrf": DAY,  # the hidden field of a web form, bound to the visitor's cookie
    "form": 600,  # a refused form's values and error, carried in a cookie across its redirect
}


class TokenError(PaperboyError):
    """A token is forged, for another purpose, or expired."""


@lru_cache(maxsize=64)
def _serializer(keys: tuple[str, ...], purpose: str) -> URLSafeTimedSerializer:
    """One serializer per key set and purpose (built once: a digest signs dozens of links).

    itsdangerous signs with the last key and verifies with any of them.
    """
    return URLSafeTimedSerializer(list(keys), salt=f"paperboy.{purpose}")


@dataclass(frozen=True, slots=True)
class Signer:
    secret_key: str
    fallback_keys: tuple[str, ...] = ()

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in LIFETIME:
            raise ValueError(f"unknown token purpose {purpose!r}")
        return _serializer((*self.fallback_keys, self.secret_key), purpose)

    def opaque_id(self, purpose: str, value: object) -> str:
        """A stable, unguessable stand-in for an internal id (32 hex digits): a keyed HMAC of
        ``value`` per purpose, so the same value always gives the same id and nothing outside
        can count or guess the ids behind it. Changes when the secret key is rotated."""
        data = f"paperboy.{purpose}:{value}".encode()
        return hmac.new(self.secret_key.encode(), data, hashlib.sha256).hexdigest()[:32]

    def make(self, purpose: str, **payload: Any) -> str:
        return self._serializer(purpose).dumps(payload)

    def read(self, purpose: str, token: str) -> dict[str, Any]:
        """The payload of a valid token, or TokenError saying why not."""
        try:
            payload = self._serializer(purpose).loads(token, max_age=LIFETIME[purpose])
        except SignatureExpired as exc:
            raise TokenError("this link has expired") from exc
        except BadSignature as exc:
            raise TokenError("this link is not valid") from exc
        if not isinstance(payload, dict):
            raise TokenError("this link is not valid")
        return payload
