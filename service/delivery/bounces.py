"""Bounces and complaints: what an SMTP refusal or a report says about an address, and acting on it.

Three ways a bounce arrives, one set of rules:

- a refusal while sending (`classify_refusal`): a 5xx to RCPT or DATA with enhanced status 5.1.x
  (no such user, bad domain) or 5.2.1 (mailbox disabled), or a bare 550/551/553 to RCPT, is a
  hard bounce; any other 5xx to RCPT or DATA is soft (mailbox full, content refused, …);
  authentication and policy refusals (5.7.x) and refusals of MAIL FROM say nothing about the
  recipient and are not bounces at all;
- a delivery status notification (RFC 3464), read by `parse_report`: each per-recipient block with
  `Action: failed` is a bounce of its `Final-Recipient` (hard or soft by its `Status`, same rules);
- a feedback report (ARF, RFC 5965, `report-type=feedback-report`): a complaint about the
  `Original-Rcpt-To` address, or the `To` of the enclosed original message.

`apply_events` marks hard bounces `bounced`, complaints `complained`, and counts soft bounces
until `PAPERBOY_SOFT_BOUNCE_LIMIT` in a row suppress the address. A suppressed subscriber is
never claimed for a delivery again.
"""

from __future__ import annotations

import mailbox
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from service import logs
from service.delivery.smtp_pool import is_policy_refusal
from service.digest.message import recipient_address
from service.errors import InputError, SendError
from service.storage import store

log = logs.get_logger(__name__)

HARD_STATUSES = ("5.1.", "5.2.1")  # bad address or domain; mailbox disabled
HARD_CODES_AT_RCPT = frozenset({550, 551, 553})  # without an enhanced status: mailbox unavailable


@dataclass(frozen=True, slots=True)
class BounceEvent:
    """An address bounced (hard or soft) or complained, and what said so."""

    email: str
    kind: Literal["bounce", "complaint"]
    hard: bool
    detail: str


def status_is_hard(status: str | None) -> bool:
    return bool(status) and status.startswith(HARD_STATUSES)  # type: ignore[union-attr]


def classify_refusal(error: SendError | None) -> Literal["hard", "soft"] | None:
    """Pure: what a failed send says about the recipient's address: "hard", "soft" or None."""
    if error is None or error.code is None or not 500 <= error.code <= 599:
        return None
    if error.stage not in ("rcpt", "data") or is_policy_refusal(error):
        return None
    if status_is_hard(error.status):
        return "hard"
    if error.status is None and error.stage == "rcpt" and error.code in HARD_CODES_AT_RCPT:
        return "hard"
    return "soft"


# --------------------------------------------------------------------------- reports


def _address(field: str | None) -> str | None:
    """The address of a DSN recipient field ("rfc822; a@b") or a plain one; lower case."""
    if not field:
        return None
    value = str(field)
    kind, sep, rest = value.partition(";")
    if sep:
        if kind.strip().lower() != "rfc822":
            return None
        value = rest
    value = value.strip().strip("<>").strip()
    return value.lower() if "@" in value else None


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _parts(msg: Message) -> Iterator[Message]:
    """Every part of the message, nested message/rfc822 included, without descending into
    the sub-blocks of delivery-status or feedback-report parts (handled by their readers)."""
    yield msg
    if msg.get_content_type() in ("message/delivery-status", "message/feedback-report"):
        return
    payload = msg.get_payload()
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _parts(part)


def _dsn_events(part: Message) -> list[BounceEvent]:
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        return []
    events = []
    for block in blocks[1:]:  # the first block is per-message, the rest per recipient
        action = _text(block.get("Action")).lower()
        if action != "failed":
            continue  # delayed, delivered, relayed, expanded: not a bounce
        address = _address(block.get("Final-Recipient")) or _address(
            block.get("Original-Recipient")
        )
        if address is None:
            continue
        status = _text(block.get("Status")).split(" ")[0] or None
        diagnostic = _text(block.get("Diagnostic-Code"))
        detail = f"DSN: {status or 'no status'} {diagnostic}".strip()
        events.append(BounceEvent(address, "bounce", status_is_hard(status), detail))
    return events


def _arf_events(report: Message, parts: list[Message]) -> list[BounceEvent]:
    fields = report.get_payload()
    block = fields[0] if isinstance(fields, list) and fields else report
    feedback_type = _text(block.get("Feedback-Type")).lower() or "abuse"
    address = _address(block.get("Original-Rcpt-To"))
    if address is None:
        # The complained-about message itself (message/rfc822 or text/rfc822-headers) names them.
        for part in parts:
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload()
                original = inner[0] if isinstance(inner, list) and inner else None
            elif part.get_content_type() == "text/rfc822-headers":
                original = message_from_bytes(
                    part.get_payload(decode=True) or b"", policy=policy.compat32
                )
            else:
                continue
            if isinstance(original, Message):
                found = [a for _, a in getaddresses(original.get_all("To", [])) if "@" in a]
                if found:
                    address = found[0].lower()
                    break
    if address is None:
        return []
    return [BounceEvent(address, "complaint", False, f"feedback report: {feedback_type}")]


def parse_report(msg: Message) -> list[BounceEvent]:
    """Pure: the bounces (RFC 3464 DSN) or complaints (RFC 5965 ARF) a message reports; [] if none."""
    parts = list(_parts(msg))
    events: list[BounceEvent] = []
    for part in parts:
        if part.get_content_type() == "message/delivery-status":
            events.extend(_dsn_events(part))
        elif part.get_content_type() == "message/feedback-report":
            events.extend(_arf_events(part, parts))
    return events


def read_messages(path: Path) -> Iterator[tuple[str, EmailMessage]]:
    """(name, message) for a single .eml, every message of an mbox, or every file in a folder.

    Raises InputError for a path that does not exist or cannot be read.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InputError(f"{file}: cannot read: {exc}") from exc
        if data.startswith(b"From "):
            box = mailbox.mbox(file, create=False)
            try:
                for index, key in enumerate(box.keys(), start=1):
                    raw = box.get_bytes(key)
                    yield f"{file}#{index}", message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
            finally:
                box.close()
        else:
            yield str(file), message_from_bytes(data, policy=policy.default)  # type: ignore[misc]


# --------------------------------------------------------------------------- acting on them


def apply_events(
    session: Session, *, events: Iterable[BounceEvent], soft_limit: int
) -> Counter[str]:
    """Suppress or count each event's address. Counts: bounced, complained, soft, unchanged.

    An address that is not a subscriber counts as unchanged, exactly like one already suppressed,
    so callers facing the outside world cannot tell them apart.
    """
    counts: Counter[str] = Counter()
    for event in events:
        email = recipient_address(event.email.strip()).lower()  # as stored: the domain in IDNA
        if event.kind == "complaint":
            changed = store.suppress_subscriber(
                session, email=email, status="complained", reason=event.detail
            )
            result = "complained" if changed else "unchanged"
        elif event.hard:
            changed = store.suppress_subscriber(
                session, email=email, status="bounced", reason=event.detail
            )
            result = "bounced" if changed else "unchanged"
        else:
            soft = store.record_soft_bounce(
                session, email=email, limit=soft_limit, reason=event.detail
            )
            result = {"bounced": "bounced", "counted": "soft"}.get(soft or "", "unchanged")
        counts[result] += 1
        log.info(
            "bounce_event", kind=event.kind, hard=event.hard, result=result, detail=event.detail
        )
    return counts
