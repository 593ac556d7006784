"""The confirmation email of the double opt-in: HTML and plain text, one signed single-use link."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.digest.message import MESSAGE_POLICY, header_value, recipient_address
from service.settings import Settings
from service.subscribers.subscriptions import OpenConfirmation
from service.subscribers.tokens import Signer

SITE_NAME = "Paperboy"  # the brand the digest shows (service/digest/render.Renderer's default)


def describe(requested: dict[str, object]) -> dict[str, object]:
    """The requested settings in words, for the mail and the confirm page."""
    topics = requested.get("topics") or []
    return {
        "topics": [
            text if kind == "keyword" else f"{kind}: {text}" for kind, text, _weight in topics
        ],  # type: ignore[union-attr]
        "when": f"{requested.get('cadence', 'daily')} at {int(requested.get('delivery_hour', 8)):02d}:00 "  # type: ignore[call-overload]
        f"({requested.get('timezone', 'UTC')})",
    }


class ConfirmationMail:
    """Builds confirmation messages; templates are loaded once."""

    def __init__(self, templates_dir: Path, *, settings: Settings, signer: Signer) -> None:
        self.settings = settings
        self.signer = signer
        self._html = Environment(
            loader=FileSystemLoader(templates_dir / "email"),
            autoescape=select_autoescape(default=True),
        ).get_template("confirm.html")
        self._text = Environment(
            loader=FileSystemLoader(templates_dir / "email"), autoescape=False
        ).get_template("confirm.txt")

    def confirm_url(self, confirmation: OpenConfirmation) -> str:
        token = self.signer.make("confirm", s=confirmation.subscriber_id, n=confirmation.nonce)
        return f"{self.settings.base_url}/confirm/{token}"

    def build(self, confirmation: OpenConfirmation, *, now: dt.datetime) -> EmailMessage:
        base = self.settings.base_url
        context = {
            "confirm_url": self.confirm_url(confirmation),
            "manage_url": f"{base}/manage/{self.signer.make('manage', s=confirmation.subscriber_id)}"
            if confirmation.was_active
            else None,
            "was_active": confirmation.was_active,
            "site_url": base,
            **describe(confirmation.requested),
        }
        subject = (
            f"Confirm the change to your {SITE_NAME} digest"
            if confirmation.was_active
            else f"Confirm your {SITE_NAME} subscription"
        )
        context |= {"subject": subject, "site_name": SITE_NAME}
        msg = EmailMessage(policy=MESSAGE_POLICY)
        msg["Subject"] = subject
        msg["From"] = self.settings.from_address
        msg["To"] = recipient_address(header_value(confirmation.email))
        if self.settings.reply_to:
            msg["Reply-To"] = self.settings.reply_to
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = make_msgid(domain=self.settings.list_domain)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
        msg.set_content(self._text.render(context), cte="quoted-printable")
        msg.add_alternative(self._html.render(context), subtype="html", cte="quoted-printable")
        return msg
