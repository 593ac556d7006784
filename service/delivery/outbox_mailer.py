"""The outbox-folder mailer (development default): each message a .eml file in a directory."""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import uuid
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from service import logs
from service.delivery.mailer import Mailer, recipients
from service.digest.message import wire_bytes
from service.errors import (
    TransientSendError,
)
from service.logs import mask_address

log = logs.get_logger(__name__)


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
        to = recipients(msg)
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
            log.warning("outbox.failed", to=mask_address(to), path=path, error=exc)
            raise TransientSendError(
                f"outbox: cannot write message to {to} into {path}: {exc}"
            ) from exc
        finally:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)
        self.last_path = path
        log.info("outbox.written", to=mask_address(to), path=path)

    def close(self) -> None:
        pass
