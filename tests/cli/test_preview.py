"""`paperboy preview`: the HTML for a browser, and the whole message as it would be sent."""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from service.cli.main import cli


@pytest.fixture
def run(tmp_path: Path, migrate: Callable[[str], None]):  # type: ignore[no-untyped-def]
    env = {
        "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'preview.db'}",
        "PAPERBOY_FROM": "Paperboy <digest@news.example.net>",
        "PAPERBOY_BASE_URL": "https://paperboy.example.org",
        "PAPERBOY_LIST_UNSUBSCRIBE_MAILTO": "unsubscribe@news.example.net",
        "PAPERBOY_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    runner = CliRunner()

    def paperboy(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    migrate(env["PAPERBOY_DATABASE_URL"])  # `paperboy db upgrade`, from the session's template
    paperboy("ingest", "--sample")
    paperboy("subscribers", "add", "reader@example.org", "--topic", "language models", "--max", "5")
    return paperboy


def test_preview_writes_the_html_and_the_message(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    html, eml = tmp_path / "out" / "digest.html", tmp_path / "out" / "digest.eml"
    result = run("preview", "reader@example.org", "--out", str(html), "--eml", str(eml))
    assert f"written to {html}" in result.output and f"written to {eml}" in result.output

    raw = eml.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert message["To"] == "reader@example.org"
    assert message["Subject"].startswith("5 papers: ")
    assert message["Message-ID"].endswith("@news.example.net>")
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://paperboy.example.org/unsubscribe/")
    assert unsubscribe.endswith(", <mailto:unsubscribe@news.example.net?subject=unsubscribe>")
    body = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert body == html.read_text(encoding="utf-8")
    assert body.count('class="paper"') == 5


def test_out_with_an_eml_name_still_writes_the_message(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    eml = tmp_path / "old.eml"
    run("preview", "reader@example.org", "--out", str(eml))
    assert BytesParser(policy=policy.default).parsebytes(eml.read_bytes())["List-Unsubscribe-Post"]
    run("preview", "reader@example.org", "--out", str(eml), "--eml", str(eml), code=2)
