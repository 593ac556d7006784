"""Logs: events named with typed fields at the call, as text or JSON, never a whole address."""

from __future__ import annotations

import json
import logging

import pytest

from service import logs
from service.logs import JsonFormatter, mask_address


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "service.test"]


def test_an_event_is_named_with_typed_fields_at_the_call(caplog: pytest.LogCaptureFixture) -> None:
    log = logs.get_logger("service.test")
    with caplog.at_level(logging.INFO):
        log.info("send", sent=3, paused=False, queued=None, error="x y", seconds=1.5)
    (record,) = _records(caplog)
    assert record.getMessage() == "send sent=3 paused=False queued=None error='x y' seconds=1.5"
    assert record.event == "send"
    assert record.fields == {
        "sent": 3, "paused": False, "queued": None, "error": "x y", "seconds": 1.5,
    }  # fmt: skip


def test_the_json_formatter_writes_one_object_per_line_with_the_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        logs.get_logger("service.test").info("plan", subscribers=5, ready=4, note="a 'b'")
    line = JsonFormatter().format(_records(caplog)[0])
    data = json.loads(line)
    assert "\n" not in line
    assert data["event"] == "plan" and data["level"] == "info" and data["logger"] == "service.test"
    assert (data["subscribers"], data["ready"], data["note"]) == (5, 4, "a 'b'")
    assert "fields" not in data
    other = json.loads(
        JsonFormatter().format(logging.LogRecord("uvicorn", 20, __file__, 1, "x=1", (), None))
    )
    assert "event" not in other and other["message"] == "x=1"  # other libraries: plain messages


def test_addresses_are_masked() -> None:
    assert mask_address("ada@example.org") == "a***@example.org"
    assert mask_address("nonsense") == "***"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_log_line_holds_a_whole_address(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure("INFO", fmt)
        log = logs.get_logger("service.delivery.outbox")
        error = "smtp relay: in doubt: the message to reader0@example.org went out"
        log.error("delivery", id=7, status="in_doubt", error=error)
        log.info("smtp.sent", to="ann@x.org", message_id="<paperboy.0badc0de@paperboy.example.org>")
        logging.getLogger("uvicorn.error").warning("client said: I am bob@example.net")
        try:
            raise ValueError("cannot send to josé@bücher.example")
        except ValueError:
            log.exception("delivery_build_failed", delivery_id=7)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    if fmt == "json":
        lines = [json.loads(line) for line in err.splitlines()]
        assert lines[0]["error"] == "smtp relay: in doubt: the message to r***@example.org went out"
        assert lines[1]["to"] == "a***@x.org"
        err = "\n".join(f"{line['message']} {line.get('exception', '')}" for line in lines)
    assert "reader0@example.org" not in err and "josé@bücher.example" not in err
    assert "r***@example.org" in err and "j***@bücher.example" in err
    assert "delivery id=7 status=in_doubt" in err and "bob@example.net" not in err
    assert "smtp.sent to=a***@x.org message_id=<paperboy.0badc0de@paperboy.example.org>" in err
