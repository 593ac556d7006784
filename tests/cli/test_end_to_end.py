"""End to end through the `paperboy` command: ingest the seeds, add subscribers, send to a real
SMTP server twice, and read what arrived."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from freezegun import freeze_time

from service.cli.main import cli
from tests.support.smtp_sink import SmtpSink


def counts(**given: object) -> dict[str, object]:
    """`paperboy send --json`'s summary: every status count, zero unless given."""
    return {"sent": 0, "deferred": 0, "failed": 0, "skipped": 0, "missed": 0} | given


class Paperboy:
    """Runs `paperboy …` in-process with a given environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, (
            f"paperboy {' '.join(args)} → {result.exit_code}\n{result.output}"
        )
        return result

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def paperboy(database_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> Paperboy:
    env = {
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_SMTP_URL": smtp_sink.url,
        "PAPERBOY_FROM": "Paperboy <digest@paperboy.example.org>",
        "PAPERBOY_BASE_URL": "https://paperboy.example.org",
        "PAPERBOY_SECRET_KEY": "an-end-to-end-secret",
        "PAPERBOY_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    run = Paperboy(env)
    run("db", "upgrade")
    return run


@freeze_time("2025-08-20 09:30:00")
def test_ingest_send_twice_delivers_one_digest_each(
    paperboy: Paperboy, seed_files: list[Path], smtp_sink: SmtpSink
) -> None:
    news = [paperboy.json("ingest", "--file", str(path))["new"] for path in seed_files]
    assert news == [119, 106, 89]

    paperboy(
        "subscribers",
        "add",
        "Ada@Example.org",
        "--topic",
        "reinforcement learning",
        "--max",
        "5",
        "--timezone",
        "Europe/Berlin",
    )
    paperboy("subscribers", "add", "bob@example.org", "--topic", "image segmentation", "--topic", "medical",
             "--exclude", "reinforcement", "--hour", "6")  # fmt: skip
    listed = paperboy.json("subscribers", "list")
    assert [s["email"] for s in listed] == ["ada@example.org", "bob@example.org"]

    assert paperboy.json("send") == counts(sent=2, skipped=0, failed=0)
    by_rcpt = {d.rcpt_tos: d.message for d in smtp_sink.deliveries}
    assert set(by_rcpt) == {("ada@example.org",), ("bob@example.org",)}

    for (address,), message in by_rcpt.items():
        assert message.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        assert message["To"] == address
        assert message["List-Unsubscribe"].startswith("<https://paperboy.example.org/unsubscribe/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Subject"].split(": ")[0].endswith(("paper", "papers"))
        assert len(message["Subject"]) <= 78

    ada_text = by_rcpt[("ada@example.org",)].get_body(("plain",)).get_content()
    bob_text = by_rcpt[("bob@example.org",)].get_body(("plain",)).get_content()
    ada_html = by_rcpt[("ada@example.org",)].get_body(("html",)).get_content()
    assert by_rcpt[("ada@example.org",)]["Subject"].startswith("5 papers: ")
    assert ada_text.lower().count("reinforcement") >= 5
    assert 'matches "reinforcement learning"' in ada_text and "reinforcement learning" in ada_html
    assert "segmentation" in bob_text.lower() and "reinforcement" not in bob_text.lower()

    # The previews agree with what was sent: each chosen paper's reason names its topic.
    preview = paperboy.json("preview", "bob@example.org")
    assert all("reinforcement" not in p["title"].lower() for p in preview["papers"])

    # A second run sends nothing more: the digests for today exist, so nobody is due until
    # tomorrow and the run does not even read them; `--only` reads one past its next due time.
    assert paperboy.json("send") == counts(sent=0, skipped=0, failed=0)
    assert paperboy.json("send", "--only", "ada@example.org") == counts(sent=0, skipped=1, failed=0)
    assert len(smtp_sink.deliveries) == 2


@freeze_time("2025-08-20 09:30:00")
def test_transient_failure_is_deferred_then_sent_once(
    paperboy: Paperboy, seed_files: list[Path], smtp_sink: SmtpSink
) -> None:
    paperboy("ingest", "--file", str(seed_files[0]))
    paperboy("subscribers", "add", "ada@example.org", "--topic", "segmentation")
    paperboy("subscribers", "add", "bob@example.org", "--topic", "language models")
    smtp_sink.fail_next(1, "451 4.3.0 try again later")
    first = paperboy.json("send")
    assert first["sent"] == 1 and first["deferred"] == 1
    assert len(smtp_sink.deliveries) == 1
    paperboy.env["PAPERBOY_RETRY_BASE_SECONDS"] = "60"
    with freeze_time("2025-08-20 09:45:00"):
        again = paperboy.json("send")
    # Bob's retry is due; Ada's digest is sent, so she is not due until tomorrow and not read.
    assert again == counts(sent=1, skipped=0, failed=0)
    assert sorted(d.rcpt_tos[0] for d in smtp_sink.deliveries) == [
        "ada@example.org",
        "bob@example.org",
    ]


@freeze_time("2025-08-20 09:30:00")
def test_dry_run_and_bad_input(
    paperboy: Paperboy, seed_files: list[Path], smtp_sink: SmtpSink
) -> None:
    paperboy("ingest", "--file", str(seed_files[1]))
    paperboy("subscribers", "add", "ada@example.org", "--topic", "workflow")
    assert paperboy.json("send", "--dry-run") == counts(sent=1, skipped=0, failed=0, dry_run=True)
    assert smtp_sink.deliveries == []

    bad = paperboy("subscribers", "add", "not-an-address", code=2)
    assert "not-an-address" in bad.stderr
    bad = paperboy("subscribers", "add", "x@example.org", "--timezone", "Mars/Olympus", code=2)
    assert "Mars/Olympus" in bad.stderr
    missing = paperboy("ingest", "--file", "/nonexistent/listing.txt", code=2)
    assert "/nonexistent/listing.txt" in missing.stderr

    paperboy("subscribers", "remove", "ada@example.org")
    assert paperboy.json("send") == counts(sent=0, skipped=0, failed=0)
    assert smtp_sink.deliveries == []


def test_a_quiet_day_sends_a_short_note_or_nothing(
    paperboy: Paperboy, seed_files: list[Path], smtp_sink: SmtpSink
) -> None:
    with freeze_time("2025-08-20 09:30:00"):
        paperboy("ingest", "--file", str(seed_files[0]))
        paperboy("subscribers", "add", "ada@example.org", "--topic", "segmentation")
        paperboy("subscribers", "add", "bob@example.org", "--topic", "segmentation", "--skip-empty")
        assert paperboy.json("send")["sent"] == 2
    smtp_sink.clear()
    with freeze_time("2025-08-21 09:30:00"):  # nothing new was ingested since
        assert paperboy.json("send") == counts(sent=1, skipped=1, failed=0)
        # Nobody is read again: Ada's note is sent, Bob's open day is looked at within the hour.
        assert paperboy.json("send") == counts(sent=0, skipped=0, failed=0)
    [note] = smtp_sink.deliveries
    assert note.rcpt_tos == ("ada@example.org",)
    text = note.message.get_body(("plain",)).get_content()
    assert "Thu 21 Aug" in note.message["Subject"]
    assert re.search(r"no new papers|nothing new", text, re.IGNORECASE)
    assert "/feedback/" not in text and "/unsubscribe/" in text


@freeze_time("2025-08-20 09:30:00")
def test_list_unsubscribe_mailto_when_configured(
    paperboy: Paperboy, seed_files: list[Path], smtp_sink: SmtpSink
) -> None:
    paperboy.env["PAPERBOY_LIST_UNSUBSCRIBE_MAILTO"] = "unsubscribe@paperboy.example.org"
    paperboy("ingest", "--file", str(seed_files[0]))
    paperboy("subscribers", "add", "ada@example.org", "--topic", "segmentation")
    assert paperboy.json("send")["sent"] == 1
    header = smtp_sink.messages[0]["List-Unsubscribe"]
    assert (
        header.startswith("<https://paperboy.example.org/unsubscribe/")
        and "<mailto:unsubscribe@paperboy.example.org" in header
    )
