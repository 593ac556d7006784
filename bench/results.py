"""bench/results.md: each script owns one "## …" section and replaces it on every run."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")
HEADER = "# Benchmark results\n\nFigures recorded by the scripts in `bench/`; each run replaces its own section.\n"


def record_section(section: str, lines: list[str]) -> None:
    """Replace (or append) the section titled ``section`` with ``lines``."""
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    body = "\n".join([section, "", *lines]) + "\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(text)
