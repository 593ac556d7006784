"""One base exception for Paperboy, with a subclass per kind of failure."""

from __future__ import annotations


class PaperboyError(Exception):
    """Base of every error Paperboy raises on purpose."""


class ConfigError(PaperboyError):
    """A setting is missing or invalid; the message names the setting."""


class SchemaError(PaperboyError):
    """The database schema is not at the latest migration."""


class SourceError(PaperboyError):
    """A source could not be read or parsed as a whole; the message names the input."""


class FetchError(SourceError):
    """A source's server could not be reached or did not answer usefully; the message names the URL."""


class InputError(PaperboyError):
    """A user-supplied value (address, timezone, topic, file) is invalid; the message names it.

    ``field``: the form field at fault, when a form supplied it (the page marks that field).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SendError(PaperboyError):
    """Sending one message failed."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        stage: str | None = None,
        status: str | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code  # the SMTP reply code, when there was a reply
        self.stage = stage  # "connect", "mail", "rcpt" or "data": the command that failed
        self.status = status  # the RFC 3463 enhanced status code of the reply, e.g. "5.1.1"
        self.timed_out = timed_out  # the server stopped answering (no reply within the timeout)


class TransientSendError(SendError):
    """A failure worth retrying later: 4xx reply, timeout, dropped connection."""


class PermanentSendError(SendError):
    """A failure that retrying cannot fix: 5xx reply for the recipient."""


class InDoubtSendError(SendError):
    """The whole message went out but no reply to its end came (timeout or drop).

    The server may have accepted it: sending it again could deliver a second copy, so it is
    never retried automatically (RFC 5321 §4.5.3.2 and §6.1).
    """


class StoreWriteError(PaperboyError):
    """Recording a send's outcome in the database failed: the run stops handing out messages."""
