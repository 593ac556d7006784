"""SmtpMailer: sends over one reused SMTP connection described by a URL (smtp:// or smtps://),
opening it lazily, reconnecting once when the server dropped it, never resending a message that
went out without a reply to its end (InDoubtSendError).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from service import logs
from service.delivery.mailer import Mailer, recipients
from service.delivery.smtp_replies import (
    DataPhaseSMTP,
    DataPhaseSMTPS,
    connection_still_good,
    enhanced_status,
    error_by_code,
    is_timeout,
    reply_text,
    send_wire,
    was_dropped,
)
from service.digest.message import message_id, raw_values
from service.errors import (
    ConfigError,
    InDoubtSendError,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from service.logs import mask_address, mask_in

log = logs.get_logger(__name__)


DEFAULT_TIMEOUT = 30.0
DEFAULT_DATA_TIMEOUT = 600.0  # RFC 5321 §4.5.3.2.6: the reply to the end of DATA, 10 minutes
SMTP_PORT = 25  # plain smtp:// default even with credentials; write :587 for submission
SMTPS_PORT = 465
STARTTLS_MODES = ("auto", "required", "never")


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
        # False from the start of a send until the server took the message: then the
        # connection is between transactions (RFC 5321 §4.1.1.4: the end of DATA resets
        # it) and the next send needs no RSET first.
        self._clean = True
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
        smtp: DataPhaseSMTP | DataPhaseSMTPS
        if self.implicit_tls:
            smtp = DataPhaseSMTPS(
                self.host,
                self.port,
                self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = DataPhaseSMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
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
            "smtp.connected",
            server=self.server,
            tls=tls,
            auth=self.username is not None,
            connection=self.connections,
        )
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
            reply_text(exc.smtp_error)
            if isinstance(exc, smtplib.SMTPResponseException)
            else str(exc)
        )
        timed_out = is_timeout(exc)
        if timed_out:
            reply = f"timed out after {self.timeout:g}s"
        log.warning(
            "smtp.connect_failed",
            server=self.server,
            to=mask_address(to),
            code=code,
            reply=mask_in(reply, to),
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
            message = f"{prefix} recipient {addr} refused: {code} {reply_text(reply)}"
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
                f"{prefix} sending to {to} failed, {stage}: {code} {reply_text(exc.smtp_error)}"
            )
            return error_by_code(
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
        if is_timeout(exc):
            return TransientSendError(
                f"{prefix} sending to {to} timed out after {self.timeout:g}s", timed_out=True
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return TransientSendError(
                f"{prefix} sending to {to}: server closed the connection ({exc})"
            )
        return TransientSendError(f"{prefix} sending to {to} failed: {type(exc).__name__}: {exc}")

    def send(self, msg: EmailMessage) -> None:
        if not raw_values(msg, "To"):
            raise ValueError("message has no To header")
        to = recipients(msg)
        for attempt in (1, 2):
            reused = self._smtp is not None
            smtp = self._connection(to)
            setattr(smtp, "message_sent", False)  # noqa: B010 (any smtplib.SMTP may stand here)
            self._clean = False
            try:
                refused = send_wire(smtp, msg)
            except (smtplib.SMTPException, OSError) as exc:
                if not connection_still_good(exc):
                    self._discard()
                if getattr(smtp, "message_sent", False) and not isinstance(
                    exc, smtplib.SMTPResponseException
                ):
                    raise self._in_doubt(exc, to, msg) from exc
                if attempt == 1 and reused and was_dropped(exc):
                    # An idle connection the server has since closed, before the message went
                    # out (MAIL, RCPT or DATA itself): nothing was delivered, reopen once.
                    log.info(
                        "smtp.reconnect",
                        server=self.server,
                        to=mask_address(to),
                        reason=type(exc).__name__,
                    )
                    continue
                error = self._send_error(exc, to)
                log.warning(
                    "smtp.failed",
                    server=self.server,
                    to=mask_address(to),
                    kind=type(error).__name__,
                    code=error.code,
                    error=mask_in(error, to),
                )
                raise error from exc
            if refused:
                # Some recipients took it: it was sent, so retrying would duplicate it.
                log.warning(
                    "smtp.partly_refused",
                    server=self.server,
                    refused={mask_address(a): r for a, r in refused.items()},
                )
            self._clean = True
            log.info(
                "smtp.sent",
                server=self.server,
                to=mask_address(to),
                message_id=message_id(msg),
            )
            return

    def _in_doubt(self, exc: BaseException, to: str, msg: EmailMessage) -> InDoubtSendError:
        """No reply to the end of the message: it may have been delivered, never resend it."""
        timed_out = is_timeout(exc)
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
            "smtp.in_doubt",
            server=self.server,
            to=mask_address(to),
            message_id=message_id(msg),
            timed_out=timed_out,
        )
        return error

    @property
    def connected(self) -> bool:
        """True while a connection is open (it will be reused by the next send)."""
        return self._smtp is not None

    def rset(self) -> None:
        """RSET on an open connection whose last transaction did not end with the server taking
        the message, so the next one starts clean; nothing after a message went through (the
        end of DATA already reset the session, and a round trip per message costs the worker,
        the relay and the wire). A server that has since dropped an idle connection is met by
        send()'s one reconnect.

        A connection the server dropped, or whose RSET it answered with anything but 250 (421:
        closing), is discarded, and the next send opens a new one. Never raises.
        """
        if self._smtp is None or self._clean:
            return
        try:
            code, reply = self._smtp.rset()
        except (smtplib.SMTPException, OSError) as exc:
            log.info("smtp.rset_failed", server=self.server, reason=type(exc).__name__)
            self._discard()
            return
        if code != 250:
            log.info("smtp.rset_refused", server=self.server, code=code, reply=reply_text(reply))
            self._discard()

    def _discard(self) -> None:
        smtp, self._smtp, self._clean = self._smtp, None, True
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
