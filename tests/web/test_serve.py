"""`paperboy serve` as a real process: refuses a stale schema, serves the sample papers, and the
page looks right in a real headless Chromium; the README's quick start, step by step."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

PAPERBOY = [sys.executable, "-m", "service"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update(
        PAPERBOY_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        PAPERBOY_OUTBOX_DIR=str(tmp_path / "outbox"),
    )
    return env


def test_serve_refuses_a_stale_schema(tmp_path: Path) -> None:
    result = subprocess.run([*PAPERBOY, "serve", "--port", str(free_port())], env=env_for(tmp_path),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert "paperboy db upgrade" in result.stderr and "--migrate" in result.stderr


def wait_until_serving(process: subprocess.Popen[str], url: str, timeout: float = 120) -> None:
    """Poll /healthz until `paperboy serve` answers; fail with its output if it exits or stays
    silent for ``timeout`` seconds (generous: a loaded machine starts Python slowly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"paperboy serve did not answer:\n{process.communicate()[0]}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The quick start's sequence: migrate, load the sample if empty, serve (once for the
    module's read-only tests)."""
    env = env_for(tmp_path_factory.mktemp("served"))
    subprocess.run(
        [*PAPERBOY, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60
    )
    subprocess.run(
        [*PAPERBOY, "ingest", "--sample", "--if-empty"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    process = subprocess.Popen([*PAPERBOY, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_shows_the_sample_papers(served: str) -> None:
    page = httpx.get(served + "/", timeout=10)
    assert page.status_code == 200
    assert "119 papers" in page.text
    # The most upvoted sample paper, its title linked to its arXiv abstract, with its authors.
    assert (
        '<a href="https://arxiv.org/abs/2410.17243">Breaking the Memory Barrier: Near Infinite '
        "Batch Size Scaling for Contrastive Loss</a>"
    ) in page.text
    assert "Zesen Cheng, Hang Zhang, Kehan Li et al." in page.text


def test_the_quick_start_sends_a_digest_with_authors_links_and_a_category_match(
    tmp_path: Path,
) -> None:
    """README's quick start today: the sample's papers are today's, its topics match them."""
    env = env_for(tmp_path)

    def paperboy(*args: str) -> str:
        done = subprocess.run(
            [*PAPERBOY, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    paperboy("db", "upgrade")  # as `python3 dev.py run` does before serving
    paperboy("ingest", "--sample", "--if-empty")
    paperboy(
        "subscribers",
        "add",
        "you@example.org",
        "--topic",
        "reinforcement learning",
        "--topic",
        "category:cs.CL",
    )
    preview = paperboy("preview", "you@example.org")
    assert "in cs.CL" in preview and 'matches "reinforcement learning"' in preview
    paperboy("send", "--date", dt.date.today().isoformat())
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    # The strong topic could fill the digest alone; the category asked for keeps a place.
    assert text.count("Why: in cs.CL") >= 1
    assert "Abstract: https://arxiv.org/abs/" in text and "PDF: https://arxiv.org/pdf/" in text
    # Each paper's meta line names its real source after its arXiv id and primary category:
    # "arXiv:2508.13167 · Hugging Face · 6 Aug 2025 · …", "arXiv:2403.16369 · cs.LG · arXiv · …".
    meta = r"^ {4}arXiv:\S+ · (?:[a-z-]+\.[A-Za-z-]+ · )?([A-Za-z ,]+) · \d"
    sources = set(re.findall(meta, text.replace("\r\n", "\n"), re.MULTILINE))
    assert sources == {"Hugging Face", "arXiv"}
    assert '<a href="https://arxiv.org/abs/' in html


@pytest.mark.browser
def test_landing_page_in_headless_chromium(served: str, tmp_path: Path, browser: Browser) -> None:
    for width, name in ((375, "phone"), (1280, "desktop")):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(served + "/")
        assert page.title() == "Paperboy"
        assert page.locator("li.paper").count() == 30
        assert page.locator("li.paper h3").first.inner_text().strip()
        # The stylesheet loaded under the CSP and nothing overflows a phone's width.
        assert (
            page.evaluate("getComputedStyle(document.querySelector('.brand')).fontWeight") == "700"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(tmp_path / f"landing-{name}.png"), full_page=False)
        page.close()
    assert (tmp_path / "landing-phone.png").stat().st_size > 10_000


def test_db_upgrade_creates_the_default_sqlite_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    result = subprocess.run(
        [*PAPERBOY, "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "paperboy.db").is_file()
