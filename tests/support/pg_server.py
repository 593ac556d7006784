"""A real PostgreSQL server for the tests: initdb + pg_ctl in a temporary folder on 127.0.0.1.

One server per test session (per xdist worker); each test gets its own database, empty or copied
from a template database migrated once (`CREATE DATABASE x TEMPLATE t`, milliseconds, instead of
running every migration again). As root the server runs as the ``postgres`` user (PostgreSQL
refuses to run as root). Where no server binaries are installed the PostgreSQL tests follow the
suite's skip policy (tests/support/requirements.py): skipped locally, a failure in CI.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.requirements import need

TEMPLATE = "paperboy_migrated"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="paperboy-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self._template_ready = False
        self._copy = ""  # CREATE DATABASE's strategy, set once the server runs

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        for attempt in range(3):
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} -c fsync=off"
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-w",
                    "-l",
                    str(self.root / "log"),
                    "start",
                )
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
                self.port = _free_port()  # another process (an xdist worker) took the port first
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres") as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
        # PostgreSQL 15+ logs every page of a new database by default; copying the template's
        # files is about twice as fast for these small databases (fsync is off anyway).
        if row and int(row[0]) >= 150000:
            self._copy = "STRATEGY FILE_COPY"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]

    def create_database(self, *, migrated: bool = False) -> str:
        """A new database: empty, or (``migrated``) at the latest migration."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        if migrated:
            self._ensure_template()
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" {self._copy}')
        else:
            self._execute(f'CREATE DATABASE "{name}" {self._copy}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a test's database (its connections too): the server's folder stays small."""
        name = url.rsplit("/", 1)[1]
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def migrate_database(self, url: str) -> None:
        """Make the (unused) database at ``url`` a fresh copy of the migrated template."""
        name = url.rsplit("/", 1)[1]
        self._ensure_template()
        self._execute(
            f'DROP DATABASE "{name}"',
            f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" {self._copy}',
        )

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        from service.storage import migrations

        self._execute(f'CREATE DATABASE "{TEMPLATE}"')
        migrations.upgrade(self.url(TEMPLATE))  # disposes its engine: nobody stays connected
        self._template_ready = True


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _bindir()
    if bindir is None:
        need(
            "postgresql",
            "the server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)",
        )
    server = PostgresServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
