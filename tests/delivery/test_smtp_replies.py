"""DATA's dot-stuffing and line endings: the fast path gives the bytes the regexes give."""

from __future__ import annotations

import itertools
import random

from service.delivery.smtp_replies import _EOLS, _LEADING_DOT, dot_stuffed


def reference(msg: bytes) -> bytes:
    data = _LEADING_DOT.sub(b"..", _EOLS.sub(b"\r\n", msg))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def test_dot_stuffed_matches_the_regexes_on_every_short_mix() -> None:
    pieces = [b"a", b".", b"\r", b"\n", b"\r\n", b".."]
    for size in range(5):
        for parts in itertools.product(pieces, repeat=size):
            msg = b"".join(parts)
            assert dot_stuffed(msg) == reference(msg), msg


def test_dot_stuffed_matches_the_regexes_on_long_messages() -> None:
    rng = random.Random(17)
    clean = b"".join(b"x" * rng.randrange(1, 76) + b"\r\n" for _ in range(500))
    assert dot_stuffed(clean) == reference(clean) == clean
    for _ in range(200):
        msg = bytearray(clean)
        for _ in range(rng.randrange(1, 4)):
            msg.insert(rng.randrange(len(msg) + 1), rng.choice(b".\r\n"))
        assert dot_stuffed(bytes(msg)) == reference(bytes(msg))
