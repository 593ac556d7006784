"""`paperboy send` draws a progress bar on a terminal's stderr, and only there."""

from __future__ import annotations

import datetime as dt
import os
import pty
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from service.cli.main import cli
from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.storage import store
from service.storage.engine import session_scope

T0 = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)


def setup(runtime: Runtime, count: int) -> None:
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=T0)
    with session_scope(runtime.factory) as session:
        for n in range(count):
            store.add_subscriber(
                session, email=f"reader{n}@example.org", status="active", timezone="UTC", delivery_hour=8,
                cadence="daily", max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=T0,
            )  # fmt: skip


def test_progress_bar_on_a_terminal_only(runtime: Runtime, tmp_path: Path) -> None:
    setup(runtime, 6)
    env = {
        "PAPERBOY_DATABASE_URL": runtime.settings.database_url, "PAPERBOY_OUTBOX_DIR": str(tmp_path / "out"),
        "PAPERBOY_SECRET_KEY": "test-secret-key-0123456789",
    }  # fmt: skip
    command = ["send", "--date", "2025-08-20", "--json"]
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", *command], env={**os.environ, **env}, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    stdout, _ = process.communicate(timeout=120)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    assert process.returncode == 0, terminal.decode()
    assert b'"sent": 6' in stdout
    assert b"sending" in terminal and b"6/6" in terminal
    # Not a terminal (a pipe, a log file): no bar.
    setup_free = CliRunner().invoke(cli, command, env=env)
    assert "sending" not in setup_free.stderr and len(list((tmp_path / "out").glob("*.eml"))) == 6
