"""A broken store fails loudly: on a damaged SQLite file `send` and `ingest` say so in one line
naming the file, `doctor` runs SQLite's integrity check, and `/healthz` reads the tables."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.delivery.runtime import Runtime
from service.ops.doctor import run_checks
from service.settings import load_settings
from service.web.app import create_app

PAPERBOY = [sys.executable, "-m", "service"]


def paperboy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAPERBOY, *args], env=env, capture_output=True, text=True, timeout=120)


def damage(path: Path, tables: tuple[str, ...]) -> None:
    """Write garbage over the root pages of ``tables``: the middle of a real file, where a torn
    write or a bad disk would leave it."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            connection.execute(
                "SELECT rootpage FROM sqlite_master WHERE name = ?", (t,)
            ).fetchone()[0]
            for t in tables
        ]
    connection.close()
    rng = random.Random(12)
    with path.open("r+b") as file:
        for root in roots:
            file.seek((root - 1) * page_size)
            file.write(bytes(rng.randrange(256) for _ in range(page_size)))


@pytest.fixture
def broken(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A real database with papers and a subscriber, then damaged; the environment to reach it."""
    db = tmp_path / "paperboy.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")} | {
        "PAPERBOY_DATABASE_URL": f"sqlite:///{db}",
        "PAPERBOY_OUTBOX_DIR": str(tmp_path / "outbox"),
        "PAPERBOY_SEMANTIC": "off",
    }
    for args in (
        ("db", "upgrade"),
        ("ingest", "--sample"),
        ("subscribers", "add", "ada@example.org", "--topic", "learning"),
    ):
        done = paperboy(env, *args)
        assert done.returncode == 0, done.stderr
    damage(db, ("subscribers", "papers", "deliveries"))
    return db, env


@pytest.mark.parametrize("command", [("send",), ("ingest", "--sample")])
def test_commands_say_in_one_line_which_file_is_broken(
    broken: tuple[Path, dict[str, str]], command: tuple[str, ...]
) -> None:
    db, env = broken
    done = paperboy(env, *command)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("paperboy: database ") and str(db) in line and "malformed" in line, line


def test_doctor_runs_an_integrity_check(broken: tuple[Path, dict[str, str]]) -> None:
    db, env = broken
    done = paperboy(env, "doctor")
    assert done.returncode != 0
    lines = [x for x in done.stdout.splitlines() if "database integrity:" in x]
    assert len(lines) == 1, done.stdout
    [line] = lines
    assert line.startswith("FAIL") and str(db) in line and "damaged" in line, done.stdout


def test_healthz_reads_the_tables_of_a_damaged_file(
    broken: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    db, _ = broken
    settings = load_settings(
        database_url=f"sqlite:///{db}", secret_key="test-secret-key-0123456789"
    )
    runtime = Runtime(settings)
    try:
        response = TestClient(create_app(runtime)).get("/healthz")
        assert response.status_code == 503 and response.json()["status"] == "error"
    finally:
        runtime.engine.dispose()


def test_doctor_and_healthz_pass_on_a_sound_database_and_healthz_fails_without_a_table(
    runtime: Runtime,
) -> None:
    checks = {c.name: c for c in run_checks(runtime)}
    if runtime.engine.dialect.name == "sqlite":
        assert checks["database integrity"].status == "ok"
    else:
        assert "database integrity" not in checks  # PostgreSQL checks its own pages
    client = TestClient(create_app(runtime))
    assert client.get("/healthz").status_code == 200
    with runtime.engine.begin() as connection:  # a table gone: "SELECT 1" would still answer
        connection.execute(text("ALTER TABLE deliveries RENAME TO deliveries_gone"))
    assert client.get("/healthz").status_code == 503
