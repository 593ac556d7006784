"""Build a digest email (`build_message`) and deliver it through a Mailer (outbox dir or SMTP).

Every Mailer.send() either returns (the message was handed over) or raises a SendError:
TransientSendError for anything worth retrying later (4xx replies, timeouts, refused or dropped
connections, a server we cannot log in to), PermanentSendError for a 5xx reply to this
message (MAIL FROM, RCPT TO or DATA). SMTP failures are classified by reply code, not by the
smtplib exception type.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import smtplib
import ssl
import tempfile
import unicodedata
import uuid
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from service.errors import ConfigError, PermanentSendError, SendError, TransientSendError
from service.records import RenderedDigest

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
SMTP_PORT = 25  # plain smtp:// default even with credentials; write :587 for submission
SMTPS_PORT = 465
STARTTLS_MODES = ("auto", "required", "never")


# --------------------------------------------------------------------------- building


def header_value(value: str) -> str:
    """One safe header line: control characters (CR, LF, NUL, ...) become spaces, runs collapse.

    Paper titles end up in the Subject; without this a title like "x\\r\\nBcc: y" could add
    a header (modern Python refuses such values outright, which would fail the send instead).
    """
    value = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value)
    return " ".join(value.split())


def _idna(domain: str) -> str:
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return ""
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain) else ""


def _message_id_domain(from_addr: str, base_url: str) -> str:
    # The sender's domain, so Message-IDs look like ours; else the site's host. Never the
    # default socket.getfqdn(), which can block on DNS and leaks the machine name.
    address = parseaddr(from_addr)[1]
    domain = _idna(address.rpartition("@")[2]) if "@" in address else ""
    return domain or _idna(urlsplit(base_url).hostname or "") or "localhost"


def _absolute_http_url(url: str, base_url: str, name: str) -> str:
    url = urljoin(base_url, header_value(url)) if base_url else header_value(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"[\s<>]", url):
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    return url


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
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with list and bulk-mail headers.

    `unsubscribe_url` may be relative to `base_url`; `base_url`'s host also names the
    Message-ID domain when `from_addr` has none. A naive `date` is taken as UTC; the default
    is now. Raises ValueError when the unsubscribe URL is not http(s).
    """
    unsubscribe = _absolute_http_url(unsubscribe_url, base_url, "unsubscribe_url")
    when = date or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)

    msg = EmailMessage(policy=policy.SMTP)  # CRLF line ends, headers folded at 78
    msg["Subject"] = header_value(rendered.subject)
    msg["From"] = header_value(from_addr)
    msg["To"] = header_value(to)
    if reply_to:
        msg["Reply-To"] = header_value(reply_to)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=_message_id_domain(from_addr, base_url))
    msg["List-Id"] = f"<{header_value(list_id).strip('<> ')}>"
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    # RFC 8058: mail clients may POST this body to the URL to unsubscribe in one click.
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # RFC 3834: tells auto-responders (vacation replies) not to answer.
    msg["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps both parts 7-bit clean for any relay, and readable in the raw.
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


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
                fh.write(msg.as_bytes(policy=policy.SMTP))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
        except OSError as exc:
            log.warning("outbox.failed to=%s path=%s error=%s", to, path, exc)
            raise TransientSendError(
                f"outbox: cannot write message to {to} into {path}: {exc}"
            ) from exc
        finally:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)
        self.last_path = path
        log.info("outbox.written to=%s path=%s", to, path)

    def close(self) -> None:
        pass


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return header_value(text)


def _by_code(code: int | None, message: str) -> SendError:
    if code is not None and 500 <= code <= 599:
        return PermanentSendError(message, code=code)
    return TransientSendError(message, code=code)


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
    first send, is reused, and is reopened once if the server dropped it in between.
    Failing to connect, negotiate TLS or log in is a TransientSendError whatever the code:
    it says nothing about the recipient, and a PermanentSendError could bounce subscribers
    for an operator's typo.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
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

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _open(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
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
        if isinstance(exc, TimeoutError):
            reply = f"timed out after {self.timeout:g}s"
        log.warning(
            "smtp.connect_failed server=%s to=%s code=%s reply=%s", self.server, to, code, reply
        )
        return TransientSendError(
            f"smtp {self.server}: cannot send to {to}: connection failed: "
            f"{code if code is not None else type(exc).__name__} {reply}".rstrip(),
            code=code,
        )

    def _send_error(self, exc: BaseException, to: str) -> SendError:
        prefix = f"smtp {self.server}:"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refusals = exc.recipients or {to: (-1, b"no recipients")}
            codes = [code for code, _ in refusals.values()]
            addr, (code, reply) = next(iter(refusals.items()))
            message = f"{prefix} recipient {addr} refused: {code} {_reply_text(reply)}"
            # Permanent only if every recipient got a 5xx; any other reply may work on retry.
            if all(500 <= c <= 599 for c in codes):
                return PermanentSendError(message, code=code)
            return TransientSendError(
                message, code=next((c for c in codes if c > 0 and c < 500), None)
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
            return _by_code(code if code > 0 else None, message)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            # e.g. a non-ASCII address and a server without SMTPUTF8: retrying won't help.
            return PermanentSendError(f"{prefix} cannot send to {to}: {exc}")
        if isinstance(exc, TimeoutError):
            return TransientSendError(f"{prefix} sending to {to} timed out after {self.timeout:g}s")
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
            try:
                refused = smtp.send_message(msg)
            except (smtplib.SMTPException, OSError) as exc:
                if not _connection_still_good(exc):
                    self._discard()
                if attempt == 1 and reused and _dropped(exc):
                    # An idle connection the server has since closed: reopen once. (If the
                    # drop came after DATA was accepted the recipient may get it twice; rare.)
                    log.info(
                        "smtp.reconnect server=%s to=%s reason=%s",
                        self.server,
                        to,
                        type(exc).__name__,
                    )
                    continue
                error = self._send_error(exc, to)
                log.warning(
                    "smtp.failed server=%s to=%s kind=%s code=%s error=%s",
                    self.server, to, type(error).__name__, error.code, error,
                )  # fmt: skip
                raise error from exc
            if refused:
                # Some recipients took it: it was sent, so retrying would duplicate it.
                log.warning("smtp.partly_refused server=%s refused=%s", self.server, refused)
            log.info(
                "smtp.sent server=%s to=%s message_id=%s", self.server, to, msg.get("Message-ID")
            )
            return

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


def mailer_from_settings(smtp_url: str | None, outbox_dir: Path) -> Mailer:
    """An SmtpMailer when an SMTP URL is configured, else an OutboxMailer writing to outbox_dir."""
    if smtp_url and smtp_url.strip():
        mailer = SmtpMailer(smtp_url.strip())
        log.info("mailer.selected kind=smtp server=%s", mailer.server)
        return mailer
    log.info("mailer.selected kind=outbox dir=%s", outbox_dir)
    return OutboxMailer(outbox_dir)
