"""`paperboy doctor` names what is wrong — settings, database, schema, mail, sources — and exits 1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.main import cli
from tests.support.smtp_sink import SmtpSink


def doctor(env: dict[str, str], code: int) -> dict[str, dict[str, str]]:
    result = CliRunner().invoke(cli, ["doctor", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return {check["name"]: check for check in json.loads(result.stdout)}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(database_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> dict[str, str]:
    (tmp_path / "listings").mkdir()
    return {
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_SMTP_URL": smtp_sink.url,
        "PAPERBOY_SECRET_KEY": "a-doctor-test-secret",
        "PAPERBOY_LISTING_DIR": str(tmp_path / "listings"),
    }


def test_a_healthy_setup_passes_and_an_unmigrated_database_is_named(env: dict[str, str]) -> None:
    checks = doctor(env, 1)
    assert checks["database"]["status"] == "ok"
    assert checks["schema"]["status"] == "fail"
    assert "paperboy db upgrade" in checks["schema"]["detail"]

    assert CliRunner().invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    checks = doctor(env, 0)
    integrity = (
        {"database integrity": "ok"} if env["PAPERBOY_DATABASE_URL"].startswith("sqlite") else {}
    )
    assert {name: c["status"] for name, c in checks.items()} == {
        "settings": "ok", "database": "ok", **integrity, "schema": "ok", "delivery queue": "ok", "mail": "ok",
        "sources": "ok",
    }  # fmt: skip


def test_an_unreachable_smtp_server_and_database_fail_with_their_address(
    env: dict[str, str], tmp_path: Path
) -> None:
    port = closed_port()
    env = env | {"PAPERBOY_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    checks = doctor(env, 1)
    assert checks["mail"]["status"] == "fail"
    assert f"127.0.0.1:{port}" in checks["mail"]["detail"]

    env = env | {
        "PAPERBOY_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/none?connect_timeout=2"
    }
    checks = doctor(env, 1)
    assert checks["database"]["status"] == "fail"
    assert "cannot connect" in checks["database"]["detail"]
    assert "schema" not in checks  # nothing to compare against
    assert checks["mail"]["status"] == "fail"  # still checked


def test_bad_settings_are_reported_not_crashed_on() -> None:
    checks = doctor({"PAPERBOY_DEFAULT_HOUR": "25"}, 1)
    assert checks["settings"]["status"] == "fail"
    assert "PAPERBOY_DEFAULT_HOUR" in checks["settings"]["detail"]


def test_production_warns_about_links_and_refuses_a_local_sender(env: dict[str, str]) -> None:
    env = env | {"PAPERBOY_ENV": "production", "PAPERBOY_BASE_URL": "http://127.0.0.1:8000"}
    checks = doctor(env, 1)
    assert checks["base url"]["status"] == "fail"
    assert checks["from address"]["status"] == "fail"


def test_the_procrastinate_queue_is_checked_for_tables_and_live_workers(
    postgres_server, env: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    env = env | {
        "PAPERBOY_DATABASE_URL": postgres_server.create_database(),
        "PAPERBOY_DELIVERY_QUEUE": "procrastinate",
    }
    assert CliRunner().invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    checks = doctor(env, 0)
    assert checks["delivery queue"]["status"] == "warn"
    assert "0 jobs waiting, 0 running, 0 live workers" in checks["delivery queue"]["detail"]
