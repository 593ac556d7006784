"""JSON logs: Paperboy's "event key=value" lines become fields a log collector can query."""

from __future__ import annotations

import json
import logging

import pytest

from service import logs
from service.logs import JsonFormatter, event_fields, mask_address


def test_event_lines_become_typed_fields() -> None:
    assert event_fields("send sent=3 deferred=0 paused=False queued=None error='x y' seconds=1.50") == {
        "event": "send", "sent": 3, "deferred": 0, "paused": False, "queued": None, "error": "x y", "seconds": 1.5,
    }  # fmt: skip
    assert event_fields("ingest source=arxiv input='feed \\'cs\\'' new=2")["input"] == "feed 'cs'"
    assert event_fields("Application startup complete.") == {}
    assert event_fields("plan ready=3 and some words") == {}


def test_the_json_formatter_writes_one_object_per_line_with_the_fields() -> None:
    record = logging.LogRecord(
        "service.delivery.planning",
        logging.INFO,
        __file__,
        1,
        "plan subscribers=%d ready=%d",
        (5, 4),
        None,
    )
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert "\n" not in line
    assert (
        data["event"] == "plan"
        and data["subscribers"] == 5
        and data["ready"] == 4
        and data["level"] == "info"
    )
    other = json.loads(
        JsonFormatter().format(logging.LogRecord("uvicorn", 20, __file__, 1, "x=1", (), None))
    )
    assert "event" not in other  # only Paperboy's own lines are parsed


def test_addresses_are_masked() -> None:
    assert mask_address("ada@example.org") == "a***@example.org"
    assert mask_address("nonsense") == "***"


def test_no_log_line_holds_a_whole_address(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure("INFO", "text")
        log = logging.getLogger("service.delivery.planning")
        error = "smtp relay: in doubt: the message to reader0@example.org went out"
        log.error("delivery id=%s status=in_doubt error=%r", 7, error)
        log.info("smtp.sent to=%s message_id=<paperboy.0badc0de@paperboy.example.org>", "ann@x.org")
        try:
            raise ValueError("cannot send to josé@bücher.example")
        except ValueError:
            log.exception("delivery_build_failed delivery_id=%s", 7)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "reader0@example.org" not in err and "josé@bücher.example" not in err
    assert "r***@example.org" in err and "j***@bücher.example" in err
    assert "delivery id=7 status=in_doubt" in err
    assert "smtp.sent to=a***@x.org message_id=<paperboy.0badc0de@paperboy.example.org>" in err
