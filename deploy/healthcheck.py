"""The container's HEALTHCHECK (deploy/Dockerfile): exit 0 when this container's role is healthy.

The role is read from PID 1's command line, which the entrypoint replaced with the role's command:
- ``paperboy serve …`` (roles ``all`` and ``web``): ``GET /healthz`` on the port it listens on
  (its ``--port``, else ``$PORT``, else 8000) must answer 200 (the database is reachable);
- anything else (``scheduler``, ``worker``, one-off commands) has no HTTP port: the database it
  works from must answer instead.
Before the entrypoint has exec'd the role (PID 1 is still ``sh paperboy-entrypoint …``, waiting for
the database or migrating) the container is not healthy yet: it is starting, which the
HEALTHCHECK's start period covers. (Checking the database then would call a web container healthy
before it serves.)
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def role_command(cmdline: Path = Path("/proc/1/cmdline")) -> list[str]:
    """PID 1's arguments, e.g. ['/usr/local/bin/python', '/usr/local/bin/paperboy', 'worker']."""
    return [part for part in cmdline.read_bytes().decode(errors="replace").split("\0") if part]


def serving_port(command: list[str]) -> int | None:
    """The HTTP port of a ``paperboy serve`` command, None for a role without one."""
    if "serve" not in command:
        return None
    for i, arg in enumerate(command):
        if arg == "--port" and i + 1 < len(command):
            return int(command[i + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return int(os.environ.get("PORT") or 8000)


def still_starting(command: list[str]) -> bool:
    """PID 1 is the entrypoint script, not yet the role it execs."""
    return any(Path(arg).name in ("paperboy-entrypoint", "entrypoint.sh") for arg in command)


def check(command: list[str], timeout: float = 4.0) -> str | None:
    """None when healthy, else what is wrong."""
    if still_starting(command):
        return "starting: the entrypoint is still waiting for the database or migrating"
    port = serving_port(command)
    if port is not None:
        url = f"http://127.0.0.1:{port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return None if response.status == 200 else f"{url} answered {response.status}"
        except OSError as exc:
            return f"{url}: {exc}"
    from sqlalchemy import text

    from service.settings import get_settings
    from service.storage.engine import make_engine

    try:
        with make_engine(get_settings().database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure is "unhealthy", said in one line
        return f"database unreachable: {exc}"
    return None


if __name__ == "__main__":
    problem = check(sys.argv[1:] or role_command())
    if problem:
        sys.stderr.write(problem + "\n")
    sys.exit(1 if problem else 0)
