"""The container roles run as processes: `paperboy scheduler` stops cleanly on SIGTERM, and
`paperboy worker` refuses a database it cannot queue on, saying why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

PAPERBOY = [sys.executable, "-m", "service"]


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
        "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'roles.db'}",
        "PAPERBOY_OUTBOX_DIR": str(tmp_path / "outbox"),
        "PAPERBOY_LISTING_DIR": str(tmp_path / "listings"),
    }


def test_the_scheduler_runs_its_ticks_and_stops_on_sigterm(
    tmp_path: Path, migrate: Callable[[str], None]
) -> None:
    env = env_for(tmp_path)
    migrate(env["PAPERBOY_DATABASE_URL"])  # as `paperboy db upgrade` would
    process = subprocess.Popen(
        [*PAPERBOY, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # Read stderr as it comes (a thread: readline would block) until the start-up tick shows.
    err_lines: list[str] = []
    ticked = threading.Event()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            err_lines.append(line)
            if "plan subscribers=0" in line:
                ticked.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert (
            "scheduler running (delivery, ingest)" in line
            or "scheduler running (ingest, delivery)" in line
        ), line
        assert ticked.wait(60), "".join(err_lines)  # the delivery tick runs at start-up
        process.send_signal(signal.SIGTERM)
        out = process.stdout.read()
        process.wait(timeout=30)
        reader.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    err = "".join(err_lines)
    assert process.returncode == 0, err
    assert "waiting for the running tick" in out


def test_a_worker_needs_postgresql_and_says_so(
    tmp_path: Path, migrate: Callable[[str], None]
) -> None:
    env = env_for(tmp_path)
    migrate(env["PAPERBOY_DATABASE_URL"])
    result = subprocess.run(
        [*PAPERBOY, "worker", "--once"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "needs PostgreSQL" in result.stderr
    queue = subprocess.run(
        [*PAPERBOY, "doctor"],
        env=env | {"PAPERBOY_DELIVERY_QUEUE": "procrastinate"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        queue.returncode == 1
        and "PAPERBOY_DELIVERY_QUEUE=procrastinate needs a PostgreSQL" in queue.stdout
    )
