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
    """A user-supplied value (address, timezone, topic, file) is invalid; the message names it."""


class SendError(PaperboyError):
    """Sending one message failed."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientSendError(SendError):
    """A failure worth retrying later: 4xx reply, timeout, dropped connection."""


class PermanentSendError(SendError):
    """A failure that retrying cannot fix: 5xx reply for the recipient."""
