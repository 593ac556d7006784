#!/usr/bin/env python3
"""The README's two commands: `python3 dev.py run [serve options]` and `python3 dev.py test`.

Each creates (or reuses) the virtualenv in .venv, installs Paperboy with its dev extra when
pyproject.toml changed since the last install, then runs. Only the standard library is used here,
so it works on a machine that has nothing but Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("PAPERBOY_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".paperboy-installed"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under whatever python3 is
        sys.exit(f"Paperboy needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print("installing Paperboy and its dependencies", flush=True)
        run([BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run([BIN / "python", "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"])
        STAMP.write_text(wanted)


def run(command: list[object], **kwargs: object) -> None:
    result = subprocess.run([str(c) for c in command], cwd=ROOT, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(result.returncode)


# The folder the `files` source reads (PAPERBOY_LISTING_DIR, from the environment or .env).
MAKE_LISTING_DIR = "from service.settings import load_settings; load_settings().listing_dir.mkdir(parents=True, exist_ok=True)"


def prepare(bin_dir: Path) -> None:
    """What `run` does before serving: migrate the database, load the sample papers into an empty
    one, and create the listing folder, so that `paperboy doctor` finds what it checks."""
    paperboy = bin_dir / "paperboy"
    run([paperboy, "db", "upgrade"])
    run([paperboy, "ingest", "--sample", "--if-empty"])
    run([bin_dir / "python", "-c", MAKE_LISTING_DIR])


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("run", "test"):
        sys.exit(
            "usage: python3 dev.py run [serve options, e.g. --port 18000] | python3 dev.py test [pytest options]"
        )
    ensure_venv()
    if argv[0] == "run":
        paperboy = BIN / "paperboy"
        prepare(BIN)
        os.chdir(ROOT)
        os.execv(str(paperboy), [str(paperboy), "serve", *argv[1:]])
    else:
        # Two pytest-xdist workers (the suite measured ~20% faster on 2 cores) unless the
        # options choose (`-n 0` runs in one process). pytest exits 5 when it collected no test:
        # that is a failure here, as it should be.
        chosen = any(a.startswith(("-n", "--numprocesses")) for a in argv[1:])
        run([BIN / "python", "-m", "pytest", *([] if chosen else ["-n", "2"]), *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])
