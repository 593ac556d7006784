"""Build a digest email (`build_message`) and deliver it through a Mailer (outbox dir or SMTP).

Every Mailer.send() either returns (the message was handed over) or raises a SendError:
TransientSendError for anything worth retrying later (4xx replies, timeouts, refused or dropped
connections, a server we cannot log in to), PermanentSendError for a 5xx reply to this
message (MAIL FROM, RCPT TO or DATA), InDoubtSendError when the message went out and no reply
to its end came (it may have been delivered: never retried). SMTP failures are classified by reply code, not by the
smtplib exception type.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import logging
import os
import re
import smtplib
import ssl
import tempfile
import uuid
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from service.errors import (
    ConfigError,
    InDoubtSendError,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from service.logs import mask_address, mask_in
from service.records import RenderedDigest

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_DATA_TIMEOUT = 600.0  # RFC 5321 §4.5.3.2.6: the reply to the end of DATA, 10 minutes
SMTP_PORT = 25  # plain smtp:// default even with credentials; write :587 for submission
SMTPS_PORT = 465
STARTTLS_MODES = ("auto", "required", "never")


# --------------------------------------------------------------------------- building

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
    return not "".join(str(value) for value in msg.get_all("To", [])).isascii()


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


def _absolute_http_url(url: str, base_url: str, name: str) -> str:
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


_BASE64_LINE = re.compile(rb".{1,76}", re.DOTALL)  # RFC 2045: at most 76 characters a line


class _WireText(str):
    """An ASCII payload whose line ends are all CRLF already: wire_bytes writes it as it is.

    Strings are immutable and set_payload() stores what it is given, so the promise holds
    for as long as the part keeps this payload.
    """


def _base64_lines(data: bytes) -> str:
    """Base64 in lines of 76 characters with CRLF line ends."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join(_BASE64_LINE.findall(encoded)).decode("ascii")


def _text_part(text: str, subtype: str, cte: str) -> EmailMessage:
    """A UTF-8 text/<subtype> part, its payload already encoded with CRLF line ends.

    Encoding in C (binascii) is ~50x faster than email.contentmanager's pure-Python
    quoted-printable, and CRLF going in means wire_bytes need not rewrite ~1,000 lines.
    """
    if "\r" in text:
        text = _NEWLINE.sub("\n", text)
    data = text.encode("utf-8").replace(b"\n", b"\r\n")
    if cte == "base64":
        payload = _base64_lines(data)
    else:  # CRLF in makes b2a_qp write CRLF line ends and soft breaks; lines stay within 76
        payload = binascii.b2a_qp(data, istext=True).decode("ascii")
    part = EmailMessage(policy=MESSAGE_POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", cte)
    part.set_payload(_WireText(payload))
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


def _flatten(part: EmailMessage, pol: policy.Policy, out: list[bytes]) -> bool:
    """Append `part`'s bytes as email.generator would write them; False if not a simple shape."""
    if part.preamble is not None or part.epilogue is not None:
        return False
    content_type = next((v for k, v in part.raw_items() if k.lower() == "content-type"), None)
    if type(content_type) is not str:
        return False  # missing, or a header object set by a caller: leave it to the generator
    payload = part.get_payload()
    for name, value in part.raw_items():
        out.append(pol.fold_binary(name, value))
    out.append(pol.linesep.encode("ascii"))
    nl = pol.linesep
    if isinstance(payload, list):
        match = _MULTIPART.fullmatch(content_type)
        if match is None:
            return False
        boundary = match.group(1)
        for i, sub in enumerate(payload):
            out.append(f"{nl if i else ''}--{boundary}{nl}".encode("ascii"))
            if not isinstance(sub, EmailMessage) or not _flatten(sub, pol, out):
                return False
        out.append(f"{nl}--{boundary}--{nl}".encode("ascii"))
        return True
    if not isinstance(payload, str) or content_type.lower().startswith(("multipart/", "message/")):
        return False
    if not payload.isascii():
        return False  # 8-bit or surrogate-escaped content: the generator re-encodes it
    if not (type(payload) is _WireText and nl == "\r\n"):
        payload = _NEWLINE.sub(nl, payload)  # as email.generator rewrites line ends
    out.append(payload.encode("ascii"))
    return True


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as sent: CRLF line ends, what email.generator writes under msg's policy.

    Byte for byte what msg.as_bytes() gives with linesep CRLF (a test checks), ten times faster
    for the shapes build_message makes; any other message goes through the generator.
    """
    pol = msg.policy.clone(linesep="\r\n", utf8=needs_smtputf8(msg))
    out: list[bytes] = []
    if _flatten(msg, pol, out):
        return b"".join(out)
    return msg.as_bytes(policy=pol)


def envelope(msg: EmailMessage) -> tuple[str, list[str]] | None:
    """Envelope sender and recipients as smtplib's send_message would take them from `msg`.

    None when the message needs send_message's own handling: a Sender, Bcc or Resent-*
    header, or an address that is not ASCII (SMTPUTF8).
    """
    if any(name in msg for name in ("Sender", "Bcc", "Resent-Date", "Resent-Bcc")):
        return None
    senders = getaddresses([str(msg["From"] or "")])
    fields = [str(value) for value in (msg["To"], msg["Cc"]) if value is not None]
    recipients = [address for _, address in getaddresses(fields)]
    sender = senders[0][1] if senders else ""
    if not "".join([sender, *recipients]).isascii():
        return None
    return sender, recipients


def _recipients(msg: EmailMessage) -> str:
    addresses = [addr for _, addr in getaddresses(msg.get_all("To", []))]
    return ", ".join(addresses) or "(no recipient)"


# --------------------------------------------------------------------------- mailers


class Mailer(Protocol):
    """Hands finished messages on; send() raises Transient/PermanentSendError on failure."""

    def send(self, msg: EmailMessage) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _safe_filename_part(text: str, limit: int = 120) -> str:
    return re.sub(r"[^A-Za-z0-9.@_-]+", "_", text).strip("._")[:limit]


class OutboxMailer(Mailer):
    """Writes each message as <UTC date>-<Message-ID>.eml into a directory (development default).

    Files appear atomically (temp file, then os.replace), so a watcher never sees half a
    message. Sending the same message twice overwrites the same file. A write failure is a
    TransientSendError: nothing is wrong with the recipient.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.last_path: Path | None = None

    def path_for(self, msg: EmailMessage) -> Path:
        """Where `msg` is (or would be) written."""
        try:
            when = parsedate_to_datetime(str(msg["Date"]))
        except (TypeError, ValueError):
            when = None
        if when is None or when.tzinfo is None:
            when = dt.datetime.now(dt.UTC)
        stamp = when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        ident = _safe_filename_part(str(msg.get("Message-ID", ""))) or uuid.uuid4().hex
        return self.directory / f"{stamp}-{ident}.eml"

    def send(self, msg: EmailMessage) -> None:
        path = self.path_for(msg)
        to = _recipients(msg)
        tmp_name: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".eml.tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(wire_bytes(msg))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
        except OSError as exc:
            log.warning("outbox.failed to=%s path=%s error=%s", mask_address(to), path, exc)
            raise TransientSendError(
                f"outbox: cannot write message to {to} into {path}: {exc}"
            ) from exc
        finally:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)
        self.last_path = path
        log.info("outbox.written to=%s path=%s", mask_address(to), path)

    def close(self) -> None:
        pass


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return header_value(text)


_ENHANCED_STATUS = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")


def enhanced_status(reply: bytes | str) -> str | None:
    """The RFC 3463 enhanced status code a reply text starts with ("5.7.26"), or None."""
    match = _ENHANCED_STATUS.match(_reply_text(reply))
    return ".".join(match.groups()) if match else None


def _by_code(
    code: int | None, message: str, *, stage: str | None = None, status: str | None = None
) -> SendError:
    if code is not None and 500 <= code <= 599:
        return PermanentSendError(message, code=code, stage=stage, status=status)
    return TransientSendError(message, code=code, stage=stage, status=status)


def _send(smtp: smtplib.SMTP, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
    # sendmail with our own serialization where we can: send_message would run the stdlib
    # generator, which costs more than building the message did.
    addresses = envelope(msg)
    if addresses is None:
        return smtp.send_message(msg)
    sender, recipients = addresses
    return smtp.sendmail(sender, recipients, wire_bytes(msg))


_EOLS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")


class _DataPhase:
    """smtplib.SMTP's DATA, which also says whether the message went out.

    `message_sent` turns True once the whole message and its final "." are written: from then
    on a timeout or drop leaves the server holding a message it may deliver, so the caller must
    not send it again. The reply to the final "." is awaited for `data_timeout` seconds (RFC
    5321 §4.5.3.2.6), not the connection's shorter timeout for other commands.
    """

    data_timeout: float | None = None
    message_sent = False
    sock: Any
    timeout: float

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        smtp: Any = self
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if isinstance(msg, str):
            msg = msg.encode("ascii")
        data = _LEADING_DOT.sub(b"..", _EOLS.sub(b"\r\n", msg))
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        smtp.send(data + b".\r\n")
        self.message_sent = True
        if self.data_timeout is not None and self.sock is not None:
            self.sock.settimeout(self.data_timeout)
        try:
            return smtp.getreply()
        finally:
            if self.sock is not None:
                self.sock.settimeout(self.timeout)


class _SMTP(_DataPhase, smtplib.SMTP):
    pass


class _SMTPS(_DataPhase, smtplib.SMTP_SSL):
    pass


def _timed_out(exc: BaseException) -> bool:
    """The server said nothing within the timeout (smtplib reports it as a disconnect)."""
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def _dropped(exc: BaseException) -> bool:
    """The server went away (closed, reset, or 421 'closing channel'): worth one reconnect."""
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421


def _connection_still_good(exc: BaseException) -> bool:
    """After a reply-coded refusal smtplib has sent RSET and the session can be reused."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPNotSupportedError):
        return True
    return (
        isinstance(exc, smtplib.SMTPResponseException)
        and 400 <= exc.smtp_code <= 599
        and exc.smtp_code != 421
    )


class SmtpMailer(Mailer):
    """Sends over one reused SMTP connection described by a URL.

    smtp://[user:pass@]host[:port][?starttls=auto|required|never]  (default port 25; STARTTLS
    is used when the server offers it, insisted on with `required`), or
    smtps://[user:pass@]host[:port]  (implicit TLS, default port 465).
    User and password are URL-decoded (write "@" as %40). The connection opens lazily on the
    first send, is reused, and is reopened once if the server dropped it in between (found
    before the message went out). The reply to the end of a message is awaited `data_timeout`
    seconds; if none comes (timeout or drop), send() raises InDoubtSendError and never resends.
    Failing to connect, negotiate TLS or log in is a TransientSendError whatever the code:
    it says nothing about the recipient, and a PermanentSendError could bounce subscribers
    for an operator's typo.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        data_timeout: float = DEFAULT_DATA_TIMEOUT,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise ConfigError(
                f"SMTP URL must start with smtp:// or smtps://, got {scheme or url!r}"
            )
        if not parts.hostname:
            raise ConfigError("SMTP URL has no host")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"SMTP URL has an invalid port: {exc}") from exc
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["auto"])[-1].lower()
        if starttls not in STARTTLS_MODES:
            raise ConfigError(f"SMTP URL starttls= must be one of {', '.join(STARTTLS_MODES)}")

        self.implicit_tls = scheme == "smtps"
        self.host = parts.hostname
        self.port = port or (SMTPS_PORT if self.implicit_tls else SMTP_PORT)
        self.username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else ""
        self.starttls = starttls
        self.timeout = timeout
        self.data_timeout = max(data_timeout, timeout)
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0  # opened so far; for logs and tests

    @property
    def server(self) -> str:
        """scheme://host:port, without credentials (safe to log)."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"SmtpMailer({self.server!r}, user={self.username!r})"

    def probe(self) -> str:
        """Connect, negotiate TLS and log in as a send would, then quit; the server's greeting name.

        Raises the same TransientSendError a send would, so `paperboy doctor` reports what a
        delivery run would hit.
        """
        try:
            smtp = self._open()
        except (smtplib.SMTPException, OSError) as exc:
            raise self._setup_error(exc, "anyone") from exc
        try:
            name = (
                (smtp.ehlo_resp or b"").decode("ascii", "replace").splitlines()[0]
                if smtp.ehlo_resp
                else ""
            )
            smtp.noop()
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
        return name

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _open(self) -> smtplib.SMTP:
        smtp: _SMTP | _SMTPS
        if self.implicit_tls:
            smtp = _SMTPS(
                self.host,
                self.port,
                self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = _SMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
        smtp.data_timeout = self.data_timeout
        try:
            smtp.ehlo_or_helo_if_needed()
            tls = self.implicit_tls
            if not self.implicit_tls and self.starttls != "never":
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                    tls = True
                elif self.starttls == "required":
                    raise smtplib.SMTPNotSupportedError(
                        "server does not offer STARTTLS (starttls=required)"
                    )
            if self.username is not None:
                smtp.login(self.username, self._password)
        except BaseException:
            smtp.close()
            raise
        self.connections += 1
        log.info(
            "smtp.connected server=%s tls=%s auth=%s connection=%d",
            self.server, tls, self.username is not None, self.connections,
        )  # fmt: skip
        return smtp

    def _connection(self, to: str) -> smtplib.SMTP:
        if self._smtp is None:
            try:
                self._smtp = self._open()
            except (smtplib.SMTPException, OSError) as exc:
                raise self._setup_error(exc, to) from exc
        return self._smtp

    def _setup_error(self, exc: BaseException, to: str) -> TransientSendError:
        code = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else None
        reply = (
            _reply_text(exc.smtp_error)
            if isinstance(exc, smtplib.SMTPResponseException)
            else str(exc)
        )
        timed_out = _timed_out(exc)
        if timed_out:
            reply = f"timed out after {self.timeout:g}s"
        log.warning(
            "smtp.connect_failed server=%s to=%s code=%s reply=%s",
            self.server,
            mask_address(to),
            code,
            mask_in(reply, to),
        )
        return TransientSendError(
            f"smtp {self.server}: cannot send to {to}: connection failed: "
            f"{code if code is not None else type(exc).__name__} {reply}".rstrip(),
            code=code,
            stage="connect",
            status=enhanced_status(reply) if code is not None else None,
            timed_out=timed_out,
        )

    def _send_error(self, exc: BaseException, to: str) -> SendError:
        prefix = f"smtp {self.server}:"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refusals = exc.recipients or {to: (-1, b"no recipients")}
            codes = [code for code, _ in refusals.values()]
            addr, (code, reply) = next(iter(refusals.items()))
            message = f"{prefix} recipient {addr} refused: {code} {_reply_text(reply)}"
            status = enhanced_status(reply)
            # Permanent only if every recipient got a 5xx; any other reply may work on retry.
            if all(500 <= c <= 599 for c in codes):
                return PermanentSendError(message, code=code, stage="rcpt", status=status)
            return TransientSendError(
                message,
                code=next((c for c in codes if c > 0 and c < 500), None),
                stage="rcpt",
                status=status,
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            stage = {
                smtplib.SMTPSenderRefused: "sender refused",
                smtplib.SMTPDataError: "message refused",
            }.get(type(exc), "server replied")
            code = exc.smtp_code
            message = (
                f"{prefix} sending to {to} failed, {stage}: {code} {_reply_text(exc.smtp_error)}"
            )
            return _by_code(
                code if code > 0 else None,
                message,
                stage={smtplib.SMTPSenderRefused: "mail", smtplib.SMTPDataError: "data"}.get(
                    type(exc)
                ),
                status=enhanced_status(exc.smtp_error),
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError) and "SMTPUTF8" in str(exc):
            # A non-ASCII local part and a relay without SMTPUTF8: nothing is wrong with the
            # address, the relay cannot carry it; deferred (a relay set up for it will).
            return TransientSendError(
                f"{prefix} cannot send to {to}: the address is not ASCII and the relay does not offer "
                f"SMTPUTF8 (RFC 6531); deferred"
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return PermanentSendError(f"{prefix} cannot send to {to}: {exc}")
        if _timed_out(exc):
            return TransientSendError(
                f"{prefix} sending to {to} timed out after {self.timeout:g}s", timed_out=True
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return TransientSendError(
                f"{prefix} sending to {to}: server closed the connection ({exc})"
            )
        return TransientSendError(f"{prefix} sending to {to} failed: {type(exc).__name__}: {exc}")

    def send(self, msg: EmailMessage) -> None:
        if not msg.get_all("To"):
            raise ValueError("message has no To header")
        to = _recipients(msg)
        for attempt in (1, 2):
            reused = self._smtp is not None
            smtp = self._connection(to)
            setattr(smtp, "message_sent", False)  # noqa: B010 (any smtplib.SMTP may stand here)
            try:
                refused = _send(smtp, msg)
            except (smtplib.SMTPException, OSError) as exc:
                if not _connection_still_good(exc):
                    self._discard()
                if getattr(smtp, "message_sent", False) and not isinstance(
                    exc, smtplib.SMTPResponseException
                ):
                    raise self._in_doubt(exc, to, msg) from exc
                if attempt == 1 and reused and _dropped(exc):
                    # An idle connection the server has since closed, before the message went
                    # out (MAIL, RCPT or DATA itself): nothing was delivered, reopen once.
                    log.info(
                        "smtp.reconnect server=%s to=%s reason=%s",
                        self.server,
                        mask_address(to),
                        type(exc).__name__,
                    )
                    continue
                error = self._send_error(exc, to)
                log.warning(
                    "smtp.failed server=%s to=%s kind=%s code=%s error=%s",
                    self.server, mask_address(to), type(error).__name__, error.code, mask_in(error, to),
                )  # fmt: skip
                raise error from exc
            if refused:
                # Some recipients took it: it was sent, so retrying would duplicate it.
                log.warning(
                    "smtp.partly_refused server=%s refused=%s",
                    self.server,
                    {mask_address(a): r for a, r in refused.items()},
                )
            log.info(
                "smtp.sent server=%s to=%s message_id=%s",
                self.server,
                mask_address(to),
                msg.get("Message-ID"),
            )
            return

    def _in_doubt(self, exc: BaseException, to: str, msg: EmailMessage) -> InDoubtSendError:
        """No reply to the end of the message: it may have been delivered, never resend it."""
        timed_out = _timed_out(exc)
        why = (
            f"no reply within {self.data_timeout:g}s"
            if timed_out
            else f"the server closed the connection ({exc})"
        )
        error = InDoubtSendError(
            f"smtp {self.server}: in doubt: the message to {to} went out but {why}; "
            "it may have been delivered, so it is not sent again",
            stage="data",
            timed_out=timed_out,
        )
        log.error(
            "smtp.in_doubt server=%s to=%s message_id=%s timed_out=%s",
            self.server, mask_address(to), msg.get("Message-ID"), timed_out,
        )  # fmt: skip
        return error

    @property
    def connected(self) -> bool:
        """True while a connection is open (it will be reused by the next send)."""
        return self._smtp is not None

    def rset(self) -> None:
        """RSET on an open connection, so the next message starts a clean transaction.

        Also a cheap liveness check: a connection the server dropped, or answered with anything
        but 250 (421: closing), is discarded, and the next send opens a new one. Never raises.
        """
        if self._smtp is None:
            return
        try:
            code, reply = self._smtp.rset()
        except (smtplib.SMTPException, OSError) as exc:
            log.info("smtp.rset_failed server=%s reason=%s", self.server, type(exc).__name__)
            self._discard()
            return
        if code != 250:
            log.info(
                "smtp.rset_refused server=%s code=%s reply=%s",
                self.server,
                code,
                _reply_text(reply),
            )
            self._discard()

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def close(self) -> None:
        """QUIT politely if connected; never raises."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def mailer_from_settings(
    smtp_url: str | None,
    outbox_dir: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    data_timeout: float = DEFAULT_DATA_TIMEOUT,
) -> Mailer:
    """An SmtpMailer when an SMTP URL is configured, else an OutboxMailer writing to outbox_dir."""
    if smtp_url and smtp_url.strip():
        mailer = SmtpMailer(smtp_url.strip(), timeout=timeout, data_timeout=data_timeout)
        log.info("mailer.selected kind=smtp server=%s", mailer.server)
        return mailer
    log.info("mailer.selected kind=outbox dir=%s", outbox_dir)
    return OutboxMailer(outbox_dir)
