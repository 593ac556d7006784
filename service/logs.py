"""Logging set-up: one line per event with stable snake_case keys, as text or JSON.

Paperboy's modules log through `get_logger`: ``log.info("send", sent=3)`` names an event and its
fields at the call site; the text formatter shows ``send sent=3``, the JSON formatter the typed
fields. Other libraries' records (uvicorn, APScheduler) pass through as plain messages.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


_RESERVED = {"exc_info", "stack_info", "stacklevel", "extra"}


class EventLogger(logging.LoggerAdapter):
    """``log.info("send", sent=3, error="x y")``: an event name and typed fields.

    The text line reads ``send sent=3 error='x y'``; the record also carries ``event`` and the
    ``fields`` as they were passed, so the JSON line has each field with its type straight from
    the call: nothing is parsed back out of the text.
    """

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        fields = {key: kwargs.pop(key) for key in list(kwargs) if key not in _RESERVED}
        extra = dict(kwargs.pop("extra", None) or {})
        extra.update(event=str(msg), fields=fields)
        kwargs["extra"] = extra
        return render_event(str(msg), fields), kwargs


def get_logger(name: str) -> EventLogger:
    """The logger a Paperboy module logs its events through."""
    return EventLogger(logging.getLogger(name), {})


def render_event(event: str, fields: dict[str, Any]) -> str:
    """``"send"``, ``{"sent": 3, "error": "x y"}`` → ``send sent=3 error='x y'``."""
    return " ".join([event, *(f"{key}={_text(value)}" for key, value in fields.items())])


def _text(value: Any) -> str:
    if isinstance(value, str) and (not value or re.search(r"[\s'\"=]", value)):
        return repr(value)
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the event and its typed fields
    (see `EventLogger`), and any other ``extra`` keys."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        event = getattr(record, "event", None)
        if event is not None:
            data["event"] = event
            data.update({k: v for k, v in record.fields.items() if k not in data})
        data.update(
            {k: v for k, v in record.__dict__.items() if k not in _STANDARD | {"event", "fields"}}
        )
        if record.exc_info:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def command_level(configured: str, *, verbose: bool, long_running: bool) -> str:
    """The level a ``paperboy`` command logs at: a person running a command reads its result, so
    only warnings and errors unless ``verbose``; a long-running process (serve, scheduler, worker)
    logs at the configured level."""
    number = logging.getLevelName(configured)
    if verbose:
        number = min(number, logging.INFO)
    elif not long_running:
        number = max(number, logging.WARNING)
    return logging.getLevelName(number)


# Anything shaped like an address (ASCII or not) in a log line: error texts that quote one, a
# library's message, a traceback's repr. It starts after a space, bracket, quote, "=" or "/"
# ("to=a@b" keeps "to="), and Paperboy's own opaque Message-IDs (paperboy.<hex>@domain, also in
# outbox file names) stay whole: operators trace messages by them.
_ADDRESS = re.compile(
    r"(?<![^\s<>()\[\]\"',;:=/])(?![^\s@]*paperboy\.[0-9a-f]+@)"
    r"[^\s<>()\[\]\"',;:@=/]+@[^\s<>()\[\]\"',;:@=/]+\.[^\s<>()\[\]\"',;:@=/]+"
)


class MaskAddresses(logging.Filter):
    """Masks every address in a record's message and exception text, whoever logged it, so logs
    never hold a whole address (``a***@example.org``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _ADDRESS.sub(lambda m: mask_address(m.group()), message)
        if masked != message:
            record.msg, record.args = masked, None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = {
                key: _ADDRESS.sub(lambda m: mask_address(m.group()), value)
                if isinstance(value, str)
                else value
                for key, value in fields.items()
            }
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _ADDRESS.sub(lambda m: mask_address(m.group()), record.exc_text)
        return True


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Send logs to stderr (stdout is for command output) in the chosen format, addresses masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskAddresses())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "httpx", "uvicorn.access", "alembic", "bm25s"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def mask_address(address: object) -> str:
    """An address as logs may show it: first letter and domain (``a***@example.org``), never whole."""
    text = str(address or "")
    local, at, domain = text.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_in(text: object, *addresses: object) -> str:
    """``text`` with each of ``addresses`` (any case) masked, e.g. a server reply that echoes one."""
    result = str(text)
    for address in addresses:
        if address:
            result = re.sub(
                re.escape(str(address)), mask_address(address), result, flags=re.IGNORECASE
            )
    return result
