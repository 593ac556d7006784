"""Validation of what people type about themselves: address, hour, cadence, topics (the time
zone check is the core module ``service.timezones``, which settings share)."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from service.errors import InputError

TOPIC_KINDS = ("keyword", "category", "author", "exclude")
CADENCES = ("daily", "weekly")
MAX_TOPIC_LENGTH = 200


def normalise_email(address: str) -> str:
    """The stored form of an address (validated syntax, lower case, an internationalised domain
    in its IDNA ASCII form, so ``bücher.example`` and ``xn--bcher-kva.example`` are one address);
    InputError names a bad one. A non-ASCII local part (``josé@``) is kept: it is sent with
    SMTPUTF8 where the relay offers it."""
    try:
        result = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InputError(f"invalid email address {address!r}: {exc}") from None
    return f"{result.local_part}@{result.ascii_domain}".lower()


def check_hour(hour: int) -> int:
    if not 0 <= hour <= 23:
        raise InputError(f"invalid delivery hour {hour}: use 0 to 23")
    return hour


def check_cadence(cadence: str) -> str:
    if cadence not in CADENCES:
        raise InputError(f"invalid cadence {cadence!r}: use daily or weekly")
    return cadence


def parse_topic(text: str, *, kind: str = "keyword", weight: float = 1.0) -> tuple[str, str, float]:
    """(kind, text, weight) from what a person typed; ``category:cs.LG`` and ``author:Name`` pick the kind.

    A trailing ``^2`` (or ``^0.5``) sets the weight, as in Lucene's query boosts.
    """
    text = " ".join(text.split())
    text, weight = _split_weight(text, weight)
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in TOPIC_KINDS and rest.strip():
        kind, text = prefix.lower(), rest.strip()
    if kind not in TOPIC_KINDS:
        raise InputError(f"invalid topic kind {kind!r}: use one of {', '.join(TOPIC_KINDS)}")
    if not text:
        raise InputError("empty topic")
    if len(text) > MAX_TOPIC_LENGTH:
        raise InputError(f"topic {text[:40]!r}… is longer than {MAX_TOPIC_LENGTH} characters")
    return kind, text, weight


def topic_label(kind: str, text: str, weight: float = 1.0) -> str:
    """A topic as a person would type it (``parse_topic``'s inverse): ``category:cs.CL``,
    ``author:Yann LeCun``, ``exclude:survey``, ``diffusion^2``; a keyword has no prefix."""
    label = text if kind == "keyword" else f"{kind}:{text}"
    return label if weight == 1 else f"{label}^{weight:g}"


MAX_TOPIC_WEIGHT = 10.0
_WEIGHT_SUFFIX = re.compile(r"(?P<text>.*?)\s*\^\s*(?P<weight>\S*)")


def check_weight(weight: float, *, topic: str = "") -> float:
    if not 0 < weight <= MAX_TOPIC_WEIGHT:
        where = f" of topic {topic!r}" if topic else ""
        raise InputError(
            f"invalid weight {weight:g}{where}: use a number above 0 and at most {MAX_TOPIC_WEIGHT:g}"
        )
    return weight


def _split_weight(text: str, weight: float) -> tuple[str, float]:
    match = _WEIGHT_SUFFIX.fullmatch(text)
    if match is None:
        return text, check_weight(weight, topic=text)
    try:
        value = float(match["weight"])
    except ValueError:
        raise InputError(
            f'invalid weight {match["weight"]!r} in topic {text!r}: write e.g. "diffusion^2"'
        ) from None
    return match["text"], check_weight(value, topic=match["text"])


def check_share(value: float, *, name: str) -> float:
    """A 0..1 preference (relevance floor, trending share); InputError names a bad one."""
    if not 0 <= value <= 1:
        raise InputError(f"invalid {name} {value:g}: use a number from 0 to 1")
    return value
