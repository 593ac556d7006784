"""The whole subscriber journey in headless Chromium against `paperboy serve` in a subprocess:
a mistyped address, subscribe, read the confirmation mail from the outbox, confirm, change topics
and watch the preview (and the phone's summary bar) follow, get a digest with the new topics, vote
on a paper, unsubscribe from the manage page and undo it, unsubscribe in one click; a 404 page.

Set PAPERBOY_WEB_SCREENSHOTS=docs/img to save the screenshots the README shows (375 and
1280 px): `PAPERBOY_WEB_SCREENSHOTS=docs/img .venv/bin/python -m pytest tests/web/test_web_browser.py`.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.delivery.runtime import Runtime
from service.ledger.ingest import ingest_file, utcnow
from service.resources import sample_listings_path
from service.settings import load_settings
from tests.web.test_serve import PAPERBOY, env_for, free_port, wait_until_serving

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get(
    "PAPERBOY_WEB_SCREENSHOTS"
)  # read at import: fixtures clear PAPERBOY_*
SCREENSHOTS_DIR = Path(SCREENSHOTS).resolve() if SCREENSHOTS else None
CLIP_HEIGHT = 1600
ADDRESS = "reader@example.org"
OVERFLOWING = """(width) => [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .map((el) => el.tagName + '.' + el.className + ': ' + Math.round(el.getBoundingClientRect().right))"""


@dataclass
class Server:
    url: str
    env: dict[str, str]
    outbox: Path
    process: subprocess.Popen[str]

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [*PAPERBOY, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def mails(self, at_least: int = 0) -> list[email.message.EmailMessage]:
        """The outbox, oldest first, once it holds ``at_least`` messages (the server sends after answering)."""
        deadline = time.monotonic() + 60
        while len(list(self.outbox.glob("*.eml"))) < at_least and time.monotonic() < deadline:
            time.sleep(0.1)
        files = sorted(self.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [
            email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files
        ]  # type: ignore[misc]


@pytest.fixture
def server(tmp_path: Path, migrate: Callable[[str], None]) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = env_for(tmp_path) | {"PAPERBOY_BASE_URL": url, "PAPERBOY_LOG_LEVEL": "DEBUG"}
    # `paperboy db upgrade` and `ingest --sample`, in-process (test_serve.py runs those commands).
    migrate(env["PAPERBOY_DATABASE_URL"])
    runtime = Runtime(load_settings(database_url=env["PAPERBOY_DATABASE_URL"]))
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=utcnow())
    runtime.engine.dispose()
    # No scheduler: the test decides when the digest goes out.
    process = subprocess.Popen([*PAPERBOY, "serve", "--port", str(port), "--no-scheduler"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_until_serving(process, url)
        yield Server(url, env, tmp_path / "outbox", process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def save(shot: Path, name: str) -> None:
    """Keep a screenshot for the docs, shrunk by pngquant when it is installed."""
    if SCREENSHOTS_DIR is None:
        return
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS_DIR / name
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        shutil.copyfile(shot, target)
    else:
        subprocess.run(
            [
                pngquant,
                "--quality=70-95",
                "--speed=1",
                "--force",
                "--output",
                str(target),
                str(shot),
            ],
            check=True,
        )


def shoot(page, tmp_path: Path, name: str, width: int) -> None:  # type: ignore[no-untyped-def]
    """Check the page fits the width, then screenshot its top."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    assert page.evaluate(OVERFLOWING, width) == [], name
    height = min(CLIP_HEIGHT, page.evaluate("document.documentElement.scrollHeight"))
    shot = tmp_path / f"{name}-{width}.png"
    page.screenshot(
        path=str(shot), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
    )
    assert shot.stat().st_size > 5_000
    save(shot, shot.name)


def shoot_viewport(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """What a phone shows right now (sticky parts where they stick), for the docs."""
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000
    save(shot, shot.name)


def matching(count: int) -> str:
    return f"{count} paper matches" if count == 1 else f"{count} papers match"


def in_viewport(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }",
        selector,
    )


def link(message: email.message.EmailMessage, kind: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(rf"(https?://\S+/{kind}/\S+)", text)
    assert found, f"no /{kind}/ link in:\n{text}"
    return found.group(1)


def preview_titles(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("#preview .preview-title").all_inner_texts()


def test_subscriber_journey(server: Server, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    phone = browser.new_context(
        viewport={"width": 375, "height": 800}, timezone_id="Europe/Berlin", device_scale_factor=1
    )
    desktop = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo", device_scale_factor=1
    )
    try:
        page = phone.new_page()
        # The landing page: papers, the form, the time zone taken from the browser.
        page.goto(server.url + "/")
        assert page.locator("li.paper").count() == 30
        assert page.locator("#timezone").input_value() == "Europe/Berlin"
        assert page.locator("#topic-suggestions option").count() > 5
        trap = page.locator("#website").bounding_box()  # the honeypot is off screen
        assert trap is None or trap["x"] + trap["width"] <= 0
        shoot(page, tmp_path, "web-landing", 375)
        wide = desktop.new_page()
        wide.goto(server.url + "/")
        assert wide.locator("#timezone").input_value() == "Asia/Tokyo"
        box = wide.locator("section.subscribe").bounding_box()
        assert box is not None and box["x"] > 640  # beside the papers on a desktop
        shoot(wide, tmp_path, "web-landing", 1280)

        # Keyboard: the email field takes focus with a visible outline.
        page.focus("#email")
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
        # A mistyped address: a message for people, the field marked, and a URL that reloads safely.
        page.fill("#email", "reader@")
        page.fill("#topic-1", "segmentation")
        page.click("text=Send me a confirmation link")
        assert page.url == server.url + "/#subscribe"
        assert "Please enter a full email address, like name@example.org" in page.inner_text(
            "#subscribe-error"
        )
        assert page.get_attribute("#email", "aria-invalid") == "true"
        assert page.get_attribute("#email", "aria-describedby") == "subscribe-error"
        assert (
            page.input_value("#email") == "reader@"
            and page.input_value("#topic-1") == "segmentation"
        )
        page.wait_for_function("() => document.activeElement.id === 'email'", timeout=5_000)
        page.reload()  # no form is posted again: the page is a GET
        assert page.locator("#subscribe-error").count() == 0 and page.input_value("#email") == ""

        page.fill("#email", ADDRESS)
        page.fill("#topic-1", "segmentation")
        page.select_option("#hour", "7")
        page.select_option("#timezone", "Europe/Berlin")
        page.click("text=Send me a confirmation link")
        assert page.locator("h1").inner_text() == "Check your inbox"

        # The confirmation mail; its link shows a button, which confirms.
        [mail] = server.mails(at_least=1)
        assert mail["To"] == ADDRESS
        page.goto(link(mail, "confirm"))
        assert "daily at 07:00 (Europe/Berlin)" in page.inner_text("main")
        shoot(page, tmp_path, "web-confirm", 375)
        page.click("button:has-text('Confirm my subscription')")
        assert page.locator("h1").inner_text() == "You are subscribed"
        assert re.search(
            r"Your first digest: (today|tomorrow), (within the next \d+ minutes|07:00 Europe/Berlin)\.",
            page.inner_text("main"),
        ), page.inner_text("main")

        # Manage: change a topic and watch the preview follow before saving.
        page.click("text=Fine-tune your topics")
        assert page.locator("#text-1").input_value() == "segmentation"
        before = preview_titles(page)
        assert before
        page.fill("#text-1", "speech recognition")
        page.wait_for_function(
            "(old) => { const t = document.querySelector('#preview .preview-title'); return t && t.textContent !== old; }",
            arg=before[0], timeout=60_000,
        )  # fmt: skip
        after = preview_titles(page)
        assert after != before
        # On the phone a bar under the settings keeps the preview's gist in sight while editing.
        page.focus("#text-1")
        assert in_viewport(page, ".preview-summary")
        assert page.inner_text("[data-preview-summary]") == matching(len(after))
        page.fill("#text-1", "zzzz-no-paper-says-this")
        page.wait_for_function(
            "() => document.querySelector('[data-preview-summary]').textContent === 'No new paper matches'",
            timeout=10_000,
        )
        page.click(".preview-summary")
        page.wait_for_function("() => window.scrollY > 0")
        assert in_viewport(page, "#preview-title")
        page.fill("#text-1", "speech recognition")
        page.wait_for_function(
            "(words) => document.querySelector('[data-preview-summary]').textContent === words",
            arg=matching(len(after)), timeout=10_000,
        )  # fmt: skip
        page.focus("#text-2")  # back to editing: the bar shows the count again
        shoot_viewport(page, tmp_path, "web-manage-editing-375")
        page.fill("#text-2", "diffusion")
        page.fill("#weight-2", "2")
        page.fill("#text-3", "robotics")
        page.select_option("#kind-3", "exclude")
        page.fill("#max_papers", "4")
        page.focus("#relevance_floor")  # the ranking choices work from the keyboard
        page.keyboard.press("ArrowDown")
        assert page.input_value("#relevance_floor") == "strict"
        page.click("button[value=save]")
        assert "Saved." in page.inner_text(".notice")
        assert page.input_value("#relevance_floor") == "strict"
        saved = preview_titles(page)
        assert 1 <= len(saved) <= 4
        shoot(page, tmp_path, "web-manage", 375)
        manage_url = page.url
        wide.goto(manage_url)
        assert not wide.locator(".preview-summary").is_visible()  # beside the preview: no bar
        shoot(wide, tmp_path, "web-manage", 1280)
        # The quiet-days box keeps its distance from the next label.
        quiet = page.locator("label.quiet-days").bounding_box()
        strict = page.locator("label[for=relevance_floor]").bounding_box()
        assert (
            quiet is not None
            and strict is not None
            and strict["y"] >= quiet["y"] + quiet["height"] + 8
        )

        # The digest that goes out follows the saved topics.
        today = dt.datetime.now(dt.UTC).date().isoformat()
        report = json.loads(server.run("send", "--only", ADDRESS, "--date", today, "--json"))
        assert report["sent"] == 1, report
        digest = server.mails()[-1]
        digest_text = digest.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        flat = " ".join(digest_text.split())
        for title in saved:
            assert " ".join(title.split()) in flat
        assert re.search(r'matches "(speech recognition|diffusion)"', flat)

        # A vote from the email: the page posts itself, and thanks the reader.
        page.goto(link(digest, "feedback"))
        page.wait_for_selector("text=Thanks!")
        assert page.locator("a:has-text('Manage your topics')").count() == 1

        # Unsubscribe from the manage page, and undo it on the page that follows.
        page.goto(manage_url)
        page.click("button[value=unsubscribe]")
        assert page.locator("h1").inner_text() == "You are unsubscribed"
        assert "/unsubscribed/" in page.url
        assert page.locator("a:has-text('Subscribe again')").get_attribute("href") == "/"
        shoot(page, tmp_path, "web-unsubscribed", 375)
        page.reload()  # the page after the POST is a GET: nothing is posted again
        assert page.locator("h1").inner_text() == "You are unsubscribed"
        page.click("button:has-text('Undo')")
        assert "Welcome back" in page.inner_text(
            ".notice"
        ) and "receiving digests" in page.inner_text(".status")

        # A page that does not exist: the site's own 404 page, with the security headers.
        missing = page.goto(server.url + "/no/such/page")
        assert missing is not None and missing.status == 404
        assert (
            missing.headers["x-frame-options"] == "DENY"
            and "default-src 'self'" in missing.headers["content-security-policy"]
        )
        assert page.locator("h1").inner_text() == "Page not found"
        shoot(page, tmp_path, "web-404", 375)

        # Unsubscribe from the email's link: one button.
        page.goto(link(digest, "unsubscribe"))
        page.click("button:has-text('Unsubscribe')")
        assert page.locator("h1").inner_text() == "You are unsubscribed"
        listed = json.loads(server.run("subscribers", "list", "--json"))
        assert [s["status"] for s in listed if s["email"] == ADDRESS] == ["unsubscribed"]
        assert [(s["relevance_floor"], s["trending_share"]) for s in listed] == [(0.5, None)]
    finally:
        phone.close()
        desktop.close()
    server.process.terminate()
    output = server.process.communicate(timeout=20)[0]
    assert (
        "confirmation_mail_sent" in output
        and "subscription_confirmed" in output
        and "feedback " in output
    )
    assert ADDRESS not in output and "/manage/ey" not in output and "/confirm/ey" not in output
