"""Settings of outgoing mail: the relay or outbox, the headers, and how a send run paces itself."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator


class MailSettings(BaseModel):
    """Where mail goes, what it says it is from, and the limits of a send run."""

    smtp_url: str | None = Field(
        None,
        description="`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`; unset writes `.eml` files to the outbox directory.",
    )
    outbox_dir: Path = Field(
        Path("var/outbox"),
        description="Where messages are written as `.eml` files when no SMTP URL is set.",
    )
    from_address: str = Field(
        "Paperboy <paperboy@localhost>",
        validation_alias="PAPERBOY_FROM",
        description="The From: of every email.",
    )
    reply_to: str | None = Field(None, description="Optional Reply-To: of every email.")
    list_unsubscribe_mailto: str | None = Field(
        None,
        description="Optional address added to `List-Unsubscribe` as a `mailto:` beside the one-click URL, for mail clients that only offer mail; you handle what arrives there.",
    )
    confirm_mail_interval_seconds: int = Field(
        3600,
        ge=0,
        description="At most one confirmation email per address within this many seconds (kept in the database, so a restart does not reset it).",
    )
    smtp_connections: int = Field(
        16,
        ge=1,
        le=100,
        description="SMTP connections a send run uses in parallel (each reused; RSET only after a transaction the server did not finish).",
    )
    smtp_rate_limit: float = Field(
        0,
        ge=0,
        description="Most messages per second a send run hands to SMTP, across all connections; 0 = no limit.",
    )
    smtp_timeout_seconds: float = Field(
        30,
        gt=0,
        le=600,
        description="Seconds to wait for the SMTP server before the attempt counts as timed out (deferred and retried).",
    )
    smtp_data_timeout_seconds: float = Field(
        600,
        gt=0,
        le=3600,
        description="Seconds to wait for the reply to the end of a message (RFC 5321 §4.5.3.2 suggests 10 minutes); a timeout or drop after the message went out leaves the delivery `in_doubt`, never resent automatically.",
    )
    send_max_per_run: int = Field(
        0,
        ge=0,
        description="Most messages one send run attempts; the rest wait for the next run; 0 = no cap.",
    )
    breaker_threshold: int = Field(
        5,
        ge=1,
        description="Authentication or policy refusals (5.7.x), or SMTP timeouts, in a row that pause a send run; what is left stays pending.",
    )
    soft_bounce_limit: int = Field(
        3,
        ge=1,
        description="Soft bounces in a row (no successful send between) after which a subscriber is suppressed as bounced.",
    )

    @field_validator("list_unsubscribe_mailto")
    @classmethod
    def _plain_address(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        address = value.strip().removeprefix("mailto:")
        # Goes into a header inside <mailto:…>: a plain ASCII address, nothing that could end it.
        if not re.fullmatch(
            r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", address
        ):
            raise ValueError(
                f"must be a plain email address such as unsubscribe@example.org, got {value!r}"
            )
        return address

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://user:pass@host:port or smtps://host:465")
        return value
