"""A digest as an email: the MIME message (`build_message`, pre-encoded parts and pre-folded
headers, list and bulk-mail headers, a stable Message-ID), its bytes on the wire (`wire_bytes`),
and the header-safe values and recipient addresses the confirmation mail
shares.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import re
import struct
import uuid
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import urljoin, urlsplit

from service.records import RenderedDigest

# policy.SMTP (CRLF, headers folded at 78), except that header values this module folds itself
# are written as they are. The stock policy refolds any line over 78 characters, and an
# unbreakable one, such as a List-Unsubscribe URL with a signed token, comes out as RFC 2047
# encoded words, which no mail client will open as a URL.
MESSAGE_POLICY = policy.SMTP.clone(refold_source="none")
MAX_HEADER_LINE = 78  # RFC 5322's SHOULD; header lines may reach 998 only where unbreakable
MAX_LINE = 998  # RFC 5322's MUST, excluding the CRLF

_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
# A bare addr-spec of ASCII atoms: the header registry would write it back unchanged.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_NEWLINE = re.compile(r"\r\n|\r|\n")  # what email.generator splits payload lines on


def header_value(value: str) -> str:
    """One safe header line: control characters (CR, LF, NUL, ...) become spaces, runs collapse.

    Paper titles end up in the Subject; without this a title like "x\\r\\nBcc: y" could add
    a header (modern Python refuses such values outright, which would fail the send instead).
    """
    return " ".join(_CONTROL.sub(" ", value).split())


@functools.lru_cache(maxsize=1024)
def _registry_folded(name: str, value: str) -> str:
    # The header registry's encoding and folding, cached: From, Reply-To and the day's few
    # subjects repeat for every subscriber, and the registry costs ~50 µs a header.
    folded = MESSAGE_POLICY.header_factory(name, value).fold(policy=MESSAGE_POLICY)
    return folded[len(name) + 1 : -len(MESSAGE_POLICY.linesep)].removeprefix(" ")


def _raw_header(name: str, value: str) -> str:
    """`value` encoded (RFC 2047 where not ASCII) and folded as the header's raw value."""
    value = header_value(value)
    plain = (
        len(name) + 2 + len(value) <= MAX_HEADER_LINE
        and _PRINTABLE_ASCII.fullmatch(value) is not None
        and "=?" not in value  # would read as an encoded word
        and (name.lower() not in _ADDRESS_HEADERS or _PLAIN_ADDRESS.fullmatch(value) is not None)
    )
    return value if plain else _registry_folded(name, value)


def _idna(domain: str) -> str:
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return ""
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain) else ""


def recipient_address(address: str) -> str:
    """``address`` as it goes on the wire: its domain in IDNA's ASCII form (``bücher.example`` →
    ``xn--bcher-kva.example``). A non-ASCII local part stays as it is: it needs a relay that
    offers SMTPUTF8 (RFC 6531) and an RFC 6532 header, never an RFC 2047 encoded word."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    return f"{local}@{_idna(domain) or domain}"


def needs_smtputf8(msg: EmailMessage) -> bool:
    """True when a recipient's address is not ASCII: the message goes out as UTF-8 (RFC 6532)."""
    return not "".join(raw_values(msg, "To")).isascii()


@functools.lru_cache(maxsize=64)  # the same two settings for every message of a run
def _message_id_domain(from_addr: str, base_url: str) -> str:
    # The sender's domain, so Message-IDs look like ours; else the site's host. Never the
    # default socket.getfqdn(), which can block on DNS and leaks the machine name.
    address = parseaddr(from_addr)[1]
    domain = _idna(address.rpartition("@")[2]) if "@" in address else ""
    return domain or _idna(urlsplit(base_url).hostname or "") or "localhost"


def _message_id(domain: str, key: str | None = None) -> str:
    # 122 random bits; shorter than make_msgid's, so the header stays on one 78-column line.
    if key is not None:
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,64}", key):
            raise ValueError(f"message key must be 1-64 letters, digits, dots or dashes: {key!r}")
        return f"<paperboy.{key}@{domain}>"
    return f"<{uuid.uuid4().hex}@{domain}>"


# An absolute http(s) URL that urljoin would give back as it is: a host, then path segments of
# unreserved characters, none of them "." or "..", no query or fragment. The unsubscribe link
# of every digest is one; the check costs a regex instead of urljoin's parse and rebuild.
_PLAIN_ABSOLUTE_URL = re.compile(
    r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]*)*"
)


def _absolute_http_url(url: str, base_url: str, name: str) -> str:
    if _PLAIN_ABSOLUTE_URL.fullmatch(url):
        return url
    url = urljoin(base_url, header_value(url)) if base_url else header_value(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"[\s<>]", url):
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    return url


def _mailto(address: str) -> str:
    address = header_value(address).removeprefix("mailto:")
    if not _PLAIN_ADDRESS.fullmatch(address):
        raise ValueError(f"unsubscribe_mailto must be a plain ASCII address, got {address!r}")
    return f"mailto:{address}?subject=unsubscribe"


def _list_unsubscribe(url: str, mailto: str | None) -> str:
    # One URI per line, HTTPS first (RFC 8058's one-click target). A URI is never broken, so a
    # line may pass 78 columns, but never the hard limit.
    uris = [f"<{url}>", *([f"<{_mailto(mailto)}>"] if mailto else [])]
    value = f",{MESSAGE_POLICY.linesep} ".join(uris)
    if any(len(line) + len("List-Unsubscribe: ") > MAX_LINE for line in value.splitlines()):
        raise ValueError("unsubscribe URL too long for a header line")
    return value


BASE64_LINE = 76  # RFC 2045: at most 76 characters a line


class _WireText(str):
    """An ASCII payload whose line ends are all CRLF already: wire_bytes writes it as it is.

    Strings are immutable and set_payload() stores what it is given, so the promise holds
    for as long as the part keeps this payload.
    """

    __slots__ = ()
    dot_free = False  # whether no line can start with "." (quoted-printable lines can)


class _Base64Text(_WireText):
    """A _WireText of base64 lines: no line starts with "." (not in base64's alphabet)."""

    __slots__ = ()
    dot_free = True


class DataReady(bytes):
    """A message's wire bytes that SMTP's DATA carries as they are (RFC 5321 §4.5.2): every
    line ends with CRLF, none starts with ".", and the last line ends too. ``wire_bytes``
    returns one when it can tell cheaply (the base64 bodies build_message makes are so by
    construction; only the headers and boundaries are looked at), sparing the sender a scan of
    the whole message for bare line ends and leading dots."""

    __slots__ = ()


def _data_ready(text: bytes) -> bool:
    """Whether ``text`` has only CRLF line ends and no line starting with "."."""
    crlf = text.count(b"\r\n")
    return (
        text.count(b"\r") == text.count(b"\n") == crlf
        and not text.startswith(b".")
        and b"\n." not in text
    )


def _base64_lines(data: bytes) -> str:
    """Base64 in lines of 76 characters with CRLF line ends.

    struct cuts the lines in one C call, holding the GIL (numpy's copies let it go, which the
    worker's other threads then take); a regex or slices cost as much again as the encoding.
    """
    encoded = binascii.b2a_base64(data, newline=False)
    full, rest = divmod(len(encoded), BASE64_LINE)
    lines = struct.unpack_from(f"{BASE64_LINE}s" * full, encoded)
    if rest:
        lines += (encoded[-rest:],)
    return b"\r\n".join(lines).decode("ascii")


def _text_part(text: str, subtype: str, cte: str) -> EmailMessage:
    """A UTF-8 text/<subtype> part, its payload already encoded with CRLF line ends.

    Encoding in C (binascii) is ~50x faster than email.contentmanager's pure-Python
    quoted-printable, and CRLF going in means wire_bytes need not rewrite ~1,000 lines.
    """
    if "\r" in text:
        text = _NEWLINE.sub("\n", text)
    data = text.encode("utf-8").replace(b"\n", b"\r\n")
    payload: _WireText
    if cte == "base64":
        payload = _Base64Text(_base64_lines(data))
    else:  # CRLF in makes b2a_qp write CRLF line ends and soft breaks; lines stay within 76
        payload = _WireText(binascii.b2a_qp(data, istext=True).decode("ascii"))
    part = EmailMessage(policy=MESSAGE_POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", cte)
    part.set_payload(payload)
    return part


def build_message(
    rendered: RenderedDigest,
    *,
    to: str,
    from_addr: str,
    base_url: str,
    unsubscribe_url: str,
    list_id: str,
    reply_to: str | None = None,
    date: dt.datetime | None = None,
    unsubscribe_mailto: str | None = None,
    message_key: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with list and bulk-mail headers.

    With `message_key` (letters, digits, dots, dashes) the Message-ID is derived from it, so
    every attempt at the same delivery carries the same Message-ID: if a crash between the
    server's 250 and our commit makes us send it again, receivers (Gmail among them) can
    recognise the copy as the same message.

    `unsubscribe_url` may be relative to `base_url`; `base_url`'s host also names the
    Message-ID domain when `from_addr` has none. `unsubscribe_mailto`, an address, adds a
    mailto: to List-Unsubscribe. A naive `date` is taken as UTC; the default is now. Raises
    ValueError when the unsubscribe URL is not http(s) or the mailto is not a plain address.
    Serialize it with `wire_bytes` (the stdlib generator gives the same bytes, slower).
    """
    unsubscribe = _absolute_http_url(unsubscribe_url, base_url, "unsubscribe_url")
    when = date or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)

    # Headers go in pre-encoded and pre-folded (set_raw): assigning through the header
    # registry would cost more than the rest of the message together.
    msg = EmailMessage(policy=MESSAGE_POLICY)
    headers = [
        ("Subject", rendered.subject),
        ("From", from_addr),
        ("To", to),
        *([("Reply-To", reply_to)] if reply_to else []),
        ("Date", format_datetime(when)),
        ("Message-ID", _message_id(_message_id_domain(from_addr, base_url), message_key)),
        ("List-Id", f"<{header_value(list_id).strip('<> ')}>"),
    ]
    for name, value in headers:
        if name == "To":
            value = recipient_address(header_value(value))
            if not value.isascii():  # RFC 6532: the address in UTF-8, as it is
                msg.set_raw(name, value)
                continue
        msg.set_raw(name, _raw_header(name, value))
    msg.set_raw("List-Unsubscribe", _list_unsubscribe(unsubscribe, unsubscribe_mailto))
    # RFC 8058: mail clients may POST this body to the URL to unsubscribe in one click.
    msg.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    # RFC 3834: tells auto-responders (vacation replies) not to answer.
    msg.set_raw("Auto-Submitted", "auto-generated")
    msg.set_raw("MIME-Version", "1.0")
    # "=_" can occur in neither quoted-printable nor base64 text, so the boundary is safe.
    boundary = f"=_paperboy_{uuid.uuid4().hex}"
    msg.set_raw(
        "Content-Type", f'multipart/alternative;{MESSAGE_POLICY.linesep} boundary="{boundary}"'
    )
    # Base64 for both parts: binascii's quoted-printable runs at a quarter of base64's speed,
    # and would cost more than the rest of this function together (~0.3 ms a digest). With
    # charset utf-8 it is what large senders use; spam filters do not mind.
    msg.set_payload(
        [_text_part(rendered.text, "plain", "base64"), _text_part(rendered.html, "html", "base64")]
    )
    return msg


_MULTIPART = re.compile(r'multipart/(?:alternative|mixed|related);\s*boundary="([^"\\]+)"')


def _flatten(
    part: EmailMessage, pol: policy.Policy, out: list[bytes], checked: list[bytes]
) -> bool:
    """Append `part`'s bytes as email.generator would write them; False if not a simple shape.

    Every piece appended that is not known to be DATA-ready (see DataReady) by construction,
    a base64 payload, also goes to `checked`: the headers and boundaries, a few hundred bytes."""
    if part.preamble is not None or part.epilogue is not None:
        return False
    content_type = next((v for k, v in part.raw_items() if k.lower() == "content-type"), None)
    if type(content_type) is not str:
        return False  # missing, or a header object set by a caller: leave it to the generator
    # A list (multipart) or our own _WireText (ASCII) is what get_payload() would return, without
    # the Content-Transfer-Encoding parse and surrogate scan that cost it ~30 us a part.
    payload = part._payload  # type: ignore[attr-defined]
    if not isinstance(payload, list | _WireText):
        payload = part.get_payload()
    start = len(out)
    for name, value in part.raw_items():
        out.append(pol.fold_binary(name, value))
    out.append(pol.linesep.encode("ascii"))
    checked.extend(out[start:])
    nl = pol.linesep
    if isinstance(payload, list):
        match = _MULTIPART.fullmatch(content_type)
        if match is None:
            return False
        boundary = match.group(1)
        for i, sub in enumerate(payload):
            out.append(f"{nl if i else ''}--{boundary}{nl}".encode("ascii"))
            checked.append(out[-1])
            if not isinstance(sub, EmailMessage) or not _flatten(sub, pol, out, checked):
                return False
        out.append(f"{nl}--{boundary}--{nl}".encode("ascii"))
        checked.append(out[-1])
        return True
    if not isinstance(payload, str) or content_type.lower().startswith(("multipart/", "message/")):
        return False
    if not payload.isascii():
        return False  # 8-bit or surrogate-escaped content: the generator re-encodes it
    wire = isinstance(payload, _WireText) and nl == "\r\n"
    if not wire:
        payload = _NEWLINE.sub(nl, payload)  # as email.generator rewrites line ends
    out.append(payload.encode("ascii"))
    if not (wire and payload.dot_free):
        checked.append(out[-1])
    return True


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as sent: CRLF line ends, what email.generator writes under msg's policy.

    Byte for byte what msg.as_bytes() gives with linesep CRLF (a test checks), ten times faster
    for the shapes build_message makes; any other message goes through the generator.
    """
    pol = msg.policy.clone(linesep="\r\n", utf8=needs_smtputf8(msg))
    out: list[bytes] = []
    checked: list[bytes] = []
    if _flatten(msg, pol, out, checked):
        wire = b"".join(out)
        # Joined with CRLF, a checked piece's first line counts as a line start, and a line
        # end split between pieces (never the case here) shows as a bare one: when in
        # doubt, not DataReady, and the sender scans the whole message.
        if wire.endswith(b"\r\n") and _data_ready(b"\r\n".join(checked)):
            return DataReady(wire)
        return wire
    return msg.as_bytes(policy=pol)


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def raw_values(msg: EmailMessage, name: str) -> list[str]:
    """The values of every `name` header as stored, unparsed: reading ``msg[name]`` runs the
    header registry's parser, which costs more per message than building it did. Enough for
    addresses (``getaddresses`` reads folded and encoded-word values as they are)."""
    wanted = name.lower()
    return [_unfolded(str(v)) for key, v in msg.raw_items() if key.lower() == wanted]


def message_id(msg: EmailMessage) -> str | None:
    """The message's Message-ID as stored (for logs and the delivery record), None if it has none."""
    return next(iter(raw_values(msg, "Message-ID")), None)


def _unfolded(value: str) -> str:
    """A header value with its folding line breaks taken out (RFC 5322 §2.2.3)."""
    return _FOLD.sub("", value) if "\n" in value else value
