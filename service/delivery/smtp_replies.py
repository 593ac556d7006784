"""The SMTP exchange below SmtpMailer: the DATA phase that says whether a message went out, and
what a reply or failure means. Failures are classified by reply code, not by the smtplib
exception type.
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from typing import Any, NoReturn

from service.digest.envelope import envelope, is_bare_address
from service.digest.message import DataReady, header_value, wire_bytes
from service.errors import (
    PermanentSendError,
    SendError,
    TransientSendError,
)


def reply_text(reply: bytes | str) -> str:
    """A server's reply as one header-safe line of text."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return header_value(text)


_ENHANCED_STATUS = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")


def enhanced_status(reply: bytes | str) -> str | None:
    """The RFC 3463 enhanced status code a reply text starts with ("5.7.26"), or None."""
    match = _ENHANCED_STATUS.match(reply_text(reply))
    return ".".join(match.groups()) if match else None


def error_by_code(
    code: int | None, message: str, *, stage: str | None = None, status: str | None = None
) -> SendError:
    """Permanent for a 5xx reply, transient for anything else (4xx, no code at all)."""
    if code is not None and 500 <= code <= 599:
        return PermanentSendError(message, code=code, stage=stage, status=status)
    return TransientSendError(message, code=code, stage=stage, status=status)


def send_wire(smtp: smtplib.SMTP, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """Send `msg` on `smtp`; the recipients it refused (smtplib's sendmail reply)."""
    # sendmail with our own serialization where we can: send_message would run the stdlib
    # generator, which costs more than building the message did.
    addresses = envelope(msg)
    if addresses is None:
        return smtp.send_message(msg)
    sender, recipients = addresses
    if isinstance(smtp, DataPhase):
        return smtp.transaction(sender, recipients, wire_bytes(msg))
    return smtp.sendmail(sender, recipients, wire_bytes(msg))


_EOLS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def dot_stuffed(msg: bytes) -> bytes:
    """The message as DATA carries it: every line ending CRLF, a leading "." doubled (RFC 5321
    §4.5.2), ending with CRLF. A message built here already ends its lines with CRLF and rarely
    starts one with "."; byte counts find that, skipping the regexes (most of the CPU a send
    cost: they rewrite every line break of a 60 kB message). wire_bytes says when a message
    is so already (DataReady): the counts alone cost ~0.15 ms for a 70 kB digest."""
    if type(msg) is DataReady:
        return msg
    crlf = msg.count(b"\r\n")
    if not (msg.count(b"\r") == msg.count(b"\n") == crlf):
        msg = _EOLS.sub(b"\r\n", msg)
    if msg.startswith(b".") or b"\n." in msg:
        msg = _LEADING_DOT.sub(b"..", msg)
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    return msg


class DataPhase:
    """smtplib.SMTP's DATA, which also says whether the message went out, and sendmail's
    transaction pipelined where the server offers it.

    `message_sent` turns True once the whole message and its final "." are written: from then
    on a timeout or drop leaves the server holding a message it may deliver, so the caller must
    not send it again. The reply to the final "." is awaited for `data_timeout` seconds (RFC
    5321 §4.5.3.2.6), not the connection's shorter timeout for other commands.
    """

    data_timeout: float | None = None
    message_sent = False
    sock: Any
    timeout: float

    def transaction(
        self, sender: str, recipients: list[str], msg: bytes
    ) -> dict[str, tuple[int, bytes]]:
        """smtplib's ``sendmail(sender, recipients, msg)``: the same replies raise the same
        errors and the recipients refused are returned. Where the server offers PIPELINING
        (RFC 2920) and the addresses are plain, MAIL, every RCPT and DATA go out in one write
        and their replies are read in order: one round trip and one write instead of one per
        command (the rest of smtplib's exchange cost a sender as much CPU as the message's
        bytes)."""
        smtp: Any = self
        smtp.ehlo_or_helo_if_needed()
        if not (
            smtp.has_extn("pipelining") and recipients  # and what quoteaddr keeps as it is:
            and is_bare_address(sender) and all(map(is_bare_address, recipients))
        ):  # fmt: skip
            return smtp.sendmail(sender, recipients, msg)
        size = f" SIZE={len(msg)}" if smtp.has_extn("size") else ""
        commands = [f"MAIL FROM:<{sender}>{size}", *(f"RCPT TO:<{r}>" for r in recipients)]
        smtp.send("".join(f"{command}\r\n" for command in [*commands, "DATA"]))
        code, reply = smtp.getreply()
        if code != 250:
            self._refused(smtplib.SMTPSenderRefused(code, reply, sender), 1 + len(recipients))
        refused: dict[str, tuple[int, bytes]] = {}
        for recipient in recipients:
            code, reply = smtp.getreply()
            if code not in (250, 251):
                refused[recipient] = (code, reply)
            if code == 421:
                smtp.close()
                raise smtplib.SMTPRecipientsRefused(refused)
        if len(refused) == len(recipients):
            self._refused(smtplib.SMTPRecipientsRefused(refused), 1)
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        self._send_data(msg)
        code, reply = self._data_reply()
        if code != 250:
            if code == 421:
                smtp.close()
            else:
                _rset(smtp)
            raise smtplib.SMTPDataError(code, reply)
        return refused

    def _refused(self, error: smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused,
                 pending: int) -> NoReturn:  # fmt: skip
        """Raise what sendmail raises for a refused MAIL or every RCPT refused, once the
        pipelined replies still owed (`pending`, DATA's last) are read: RSET after, or the
        connection closed after a 421."""
        smtp: Any = self
        if getattr(error, "smtp_code", None) == 421:
            smtp.close()
            raise error
        try:
            for _ in range(pending - 1):
                smtp.getreply()
            code, _ = smtp.getreply()  # DATA's: refused, as no recipient was taken
            if code == 354:  # a server that takes DATA anyway gets an empty message, which
                smtp.send(b".\r\n")  # it must refuse (no recipient), and a clean end
                smtp.getreply()
        except smtplib.SMTPServerDisconnected:
            raise error from None
        _rset(smtp)
        raise error

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        smtp: Any = self
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if isinstance(msg, str):
            msg = msg.encode("ascii")
        self._send_data(msg)
        return self._data_reply()

    def _send_data(self, msg: bytes) -> None:
        """The message and its final ".": from here on it may have been delivered."""
        smtp: Any = self
        smtp.send(dot_stuffed(msg) + b".\r\n")
        self.message_sent = True

    def _data_reply(self) -> tuple[int, bytes]:
        smtp: Any = self
        if self.data_timeout is not None and self.sock is not None:
            self.sock.settimeout(self.data_timeout)
        try:
            return smtp.getreply()
        finally:
            if self.sock is not None:
                self.sock.settimeout(self.timeout)


def _rset(smtp: smtplib.SMTP) -> None:
    """RSET after a refused transaction, as sendmail does; a server already gone is no error."""
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


class DataPhaseSMTP(DataPhase, smtplib.SMTP):
    pass


class DataPhaseSMTPS(DataPhase, smtplib.SMTP_SSL):
    pass


def is_timeout(exc: BaseException) -> bool:
    """The server said nothing within the timeout (smtplib reports it as a disconnect)."""
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def was_dropped(exc: BaseException) -> bool:
    """The server went away (closed, reset, or 421 'closing channel'): worth one reconnect."""
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421


def connection_still_good(exc: BaseException) -> bool:
    """After a reply-coded refusal smtplib has sent RSET and the session can be reused."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPNotSupportedError):
        return True
    return (
        isinstance(exc, smtplib.SMTPResponseException)
        and 400 <= exc.smtp_code <= 599
        and exc.smtp_code != 421
    )
