"""Signed, expiring tokens for the links in emails (confirm, manage, unsubscribe, digest;
feedback and steer in digests sent before the digest token).

Each purpose has its own salt, so a token made for one purpose never opens another, and its own
lifetime. Extra keys (``fallback_keys``) still verify tokens signed before a secret rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes, want_bytes
from itsdangerous.timed import TimestampSigner

from service.errors import PaperboyError

DAY = 86_400
LIFETIME = {
    "confirm": 2 * DAY,
    "manage": 90 * DAY,
    "unsubscribe": 90 * DAY,
    # One per digest: its paper links (vote, like, mute, exclude) carry it, the action in the
    # query (subscribers/paper_links.py says why that is safe).
    "digest": 90 * DAY,
    "feedback": 90 * DAY,  # one per link, in digests sent before the digest token: still read
    "steer": 90 * DAY,  # "mute this author", "not interested in …": a page, then a POST
    "feed": 3650 * DAY,  # an Atom feed URL lives in a feed reader; it only reads the archive
    "csrf": DAY,  # the hidden field of a web form, bound to the visitor's cookie
    "form": 600,  # a refused form's values and error, carried in a cookie across its redirect
}


class TokenError(PaperboyError):
    """A token is forged, for another purpose, or expired."""


_DIGEST = "sha1"  # itsdangerous's default; named here so make() can sign in one C call


@lru_cache(maxsize=64)
def _serializer(keys: tuple[str, ...], purpose: str) -> URLSafeTimedSerializer:
    """One serializer per key set and purpose (built once: a digest signs dozens of links).

    itsdangerous signs with the last key and verifies with any of them.
    """
    return URLSafeTimedSerializer(
        list(keys), salt=f"paperboy.{purpose}", signer_kwargs={"digest_method": hashlib.sha1}
    )


_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


# Below this many bytes of JSON a payload is not offered to zlib: starting a deflate stream costs
# ~50 µs (its window and tables are allocated per call), a digest signs ~46 links of 30–60 bytes,
# and only a payload repeating itself would come out shorter. Either form reads back the same.
COMPRESS_FROM = 96


def _payload(obj: Any) -> bytes:
    """``URLSafeSerializerMixin.dump_payload`` with itsdangerous's compact JSON, with one encoder
    (``json.dumps`` with options builds a new one per call): zlib-compressed (marked by a
    leading ".") when that is shorter, then URL-safe base64. Payloads under COMPRESS_FROM bytes
    are left uncompressed, which ``loads`` reads as it reads the compressed form."""
    data = _COMPACT_JSON.encode(obj).encode("utf-8")
    if len(data) < COMPRESS_FROM:
        return base64_encode(data)
    compressed = zlib.compress(data)
    if len(compressed) < len(data) - 1:
        return b"." + base64_encode(compressed)
    return base64_encode(data)


@lru_cache(maxsize=64)
def _signing(keys: tuple[str, ...], purpose: str) -> tuple[TimestampSigner, bytes]:
    """One signer of the purpose's serializer and its derived key, for ``make``: itsdangerous builds a new
    signer and derives its key (a SHA-1) on every ``dumps``, and a worker signs dozens of links
    per message."""
    signer = _serializer(keys, purpose).make_signer()
    assert isinstance(signer, TimestampSigner)
    return signer, signer.derive_key()


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
        """``URLSafeTimedSerializer.dumps(payload)`` with the key derived once and the HMAC in one
        call; the same bytes, except that a payload under COMPRESS_FROM bytes is never
        compressed."""
        if purpose not in LIFETIME:
            raise ValueError(f"unknown token purpose {purpose!r}")
        signer, key = _signing((*self.fallback_keys, self.secret_key), purpose)
        sep = want_bytes(signer.sep)
        value = _payload(payload) + sep + base64_encode(int_to_bytes(signer.get_timestamp()))
        return (value + sep + base64_encode(hmac.digest(key, value, _DIGEST))).decode()

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
