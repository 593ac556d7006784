"""The Mailer protocol: what every mailer (the outbox folder, SMTP, the SMTP pool) offers.

Every Mailer.send() either returns (the message was handed over) or raises a SendError
(service/errors.py): TransientSendError for anything worth retrying later (4xx replies,
timeouts, refused or dropped connections, a server we cannot log in to), PermanentSendError for
a 5xx reply to this message (MAIL FROM, RCPT TO or DATA), InDoubtSendError when the message went
out and no reply to its end came (it may have been delivered: never retried).
"""

from __future__ import annotations

from email.message import EmailMessage
from types import TracebackType
from typing import Protocol, Self

from service.digest.envelope import addr_specs
from service.digest.message import raw_values


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


def recipients(msg: EmailMessage) -> str:
    """The To addresses of `msg`, for logs and error messages."""
    addresses = addr_specs(raw_values(msg, "To"))
    return ", ".join(addresses) or "(no recipient)"
