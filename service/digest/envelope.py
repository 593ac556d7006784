"""A message's SMTP envelope, read from its stored header values: the sender and recipients
smtplib's send_message would take, without the header parser where an address is bare."""

from __future__ import annotations

import functools
import re
from email.message import EmailMessage
from email.utils import getaddresses

from service.digest.message import raw_values


def envelope(msg: EmailMessage) -> tuple[str, list[str]] | None:
    """Envelope sender and recipients as smtplib's send_message would take them from `msg`.

    None when the message needs send_message's own handling: a Sender, Bcc or Resent-*
    header, or an address that is not ASCII (SMTPUTF8).
    """
    if not _SEND_MESSAGE_HEADERS.isdisjoint(key.lower() for key in msg.keys()):
        return None
    senders = addr_specs(raw_values(msg, "From")[:1])
    recipients = addr_specs(raw_values(msg, "To") + raw_values(msg, "Cc"))
    sender = senders[0] if senders else ""
    if not "".join([sender, *recipients]).isascii():
        return None
    return sender, recipients


_SEND_MESSAGE_HEADERS = frozenset({"sender", "bcc", "resent-date", "resent-bcc"})
_ATOMS = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_BARE_ADDR_SPEC = re.compile(rf"{_ATOMS}@{_ATOMS}")  # dot-atoms: getaddresses keeps it as it is


def is_bare_address(value: str) -> bool:
    """Whether ``value`` is a bare addr-spec of dot-atoms (``a.b+c@example.org``): what the
    address parsers give back as it is, and what an SMTP path holds between "<" and ">"."""
    return _BARE_ADDR_SPEC.fullmatch(value) is not None


def addr_specs(values: list[str]) -> list[str]:
    """The addresses in address header values, as ``email.utils.getaddresses`` reads them.

    A lone bare address (a digest's To) is its own answer; anything else is parsed, cached
    (the one From of a run): the parser costs ~30 µs a header, more than a send's own work.
    """
    if len(values) == 1 and is_bare_address(values[0]):
        return values[:]
    return list(_parsed_addr_specs(tuple(values)))


@functools.lru_cache(maxsize=256)
def _parsed_addr_specs(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(addr for _, addr in getaddresses(list(values)))
