"""Signed links: per purpose, expiring, and verifiable across a secret rotation."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from service.subscribers.tokens import Signer, TokenError


def test_round_trip_and_purpose_separation() -> None:
    signer = Signer("secret-one")
    token = signer.make("unsubscribe", s=42)
    assert signer.read("unsubscribe", token) == {"s": 42}
    with pytest.raises(TokenError, match="not valid"):
        signer.read("manage", token)
    with pytest.raises(TokenError, match="not valid"):
        Signer("another-secret").read("unsubscribe", token)
    with pytest.raises(TokenError):
        signer.read("unsubscribe", token[:-2] + "xx")


def test_confirm_links_expire_after_48_hours_unsubscribe_links_last() -> None:
    signer = Signer("secret-one")
    with freeze_time("2025-01-01 00:00:00"):
        confirm = signer.make("confirm", s=1)
        unsubscribe = signer.make("unsubscribe", s=1)
    with freeze_time("2025-01-02 23:00:00"):
        assert signer.read("confirm", confirm) == {"s": 1}
    with freeze_time("2025-01-03 01:00:00"):
        with pytest.raises(TokenError, match="expired"):
            signer.read("confirm", confirm)
    with freeze_time("2025-03-01 00:00:00"):
        assert signer.read("unsubscribe", unsubscribe) == {"s": 1}


def test_rotation_keeps_old_links_valid() -> None:
    old = Signer("old-secret").make("manage", s=7)
    rotated = Signer("new-secret", fallback_keys=("old-secret",))
    assert rotated.read("manage", old) == {"s": 7}
    assert Signer("new-secret").read("manage", rotated.make("manage", s=7)) == {"s": 7}


def test_made_tokens_are_itsdangerous_tokens_byte_for_byte() -> None:
    """make() signs with a cached key; a link it makes is the one itsdangerous would make."""
    from itsdangerous import URLSafeTimedSerializer

    signer = Signer("secret-two", fallback_keys=("secret-one",))
    reference = URLSafeTimedSerializer(["secret-one", "secret-two"], salt="paperboy.steer")
    payloads = [{"s": 1}, {"s": 12345, "p": 678, "v": -1, "i": 3},
                {"s": 5, "p": 6, "k": "keyword", "t": "réseaux de neurones " * 4}]  # fmt: skip
    with freeze_time("2025-01-01 00:00:00"):
        for payload in payloads:
            token = signer.make("steer", **payload)
            assert token == reference.dumps(payload)
            assert signer.read("steer", token) == payload
    with pytest.raises(ValueError, match="unknown token purpose"):
        signer.make("nothing", s=1)


def test_short_payloads_are_not_compressed_and_read_back() -> None:
    """A short payload skips zlib (its setup costs more than the rest of a link), even one
    zlib would shorten; itsdangerous reads the uncompressed form all the same."""
    import zlib

    from itsdangerous import URLSafeTimedSerializer

    from service.subscribers.tokens import COMPRESS_FROM

    payload = {"s": 5, "p": 6, "k": "phrase", "t": "aaaa" * 10}
    data = json.dumps(payload, separators=(",", ":")).encode()
    assert len(data) < COMPRESS_FROM and len(zlib.compress(data)) < len(data) - 1
    signer = Signer("secret")
    token = signer.make("steer", **payload)
    assert not token.startswith(".")
    reference = URLSafeTimedSerializer(["secret"], salt="paperboy.steer")
    assert reference.loads(token) == payload == signer.read("steer", token)
    assert reference.dumps(payload).startswith(".")  # itsdangerous would have compressed it
