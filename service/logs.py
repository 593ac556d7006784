"""Logging set-up: one line per event with stable snake_case keys, as text or JSON."""

from __future__ import annotations

import ast
import json
import logging
import re
import sys
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


# Paperboy's own messages read "event key=value key=value": JSON output turns them into fields.
_EVENT = re.compile(r"^([a-z][a-z0-9_.]*)(?= |$)")
_PAIR = re.compile(r"""(?:^| )([a-z][a-z0-9_]*)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S*)""")


def event_fields(message: str) -> dict[str, Any]:
    """``"send sent=3 error='x y'"`` → ``{"event": "send", "sent": 3, "error": "x y"}``; {} otherwise."""
    event = _EVENT.match(message)
    if event is None:
        return {}
    fields: dict[str, Any] = {"event": event.group(1)}
    rest = message[event.end() :]
    consumed = 0
    for pair in _PAIR.finditer(rest):
        if rest[consumed : pair.start()].strip():
            return {}  # free text between pairs: not an event line
        fields[pair.group(1)] = _value(pair.group(2))
        consumed = pair.end()
    if rest[consumed:].strip():
        return {}
    return fields


def _value(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text[1:-1]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the event's key=value fields,
    and any ``extra`` keys."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        if record.name.startswith("service"):
            data.update({k: v for k, v in event_fields(message).items() if k not in data})
        data.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
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
