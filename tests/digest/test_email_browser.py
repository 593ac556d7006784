"""The digest email in a real headless Chromium: phone and desktop widths, light and dark colour
schemes; nothing may overflow the width, and dark mode must take effect.

Set PAPERBOY_EMAIL_SCREENSHOTS=docs/img to save the four screenshots the README shows
(clipped to 1,400 px height): `PAPERBOY_EMAIL_SCREENSHOTS=docs/img .venv/bin/python -m pytest
tests/digest/test_email_browser.py`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from service.digest.render import Renderer
from service.digest.samples import ranked_sample_digest, sample_digest
from service.records import Digest
from service.resources import templates_dir
from tests.digest.test_render import hostile_digest

pytestmark = pytest.mark.browser

WIDTHS = (375, 800)
SCHEMES = ("light", "dark")
CLIP_HEIGHT = 1400
# Read at import: the autouse fixture clears PAPERBOY_* variables and changes directory.
SCREENSHOTS = os.environ.get("PAPERBOY_EMAIL_SCREENSHOTS")
SCREENSHOTS_DIR = Path(SCREENSHOTS).resolve() if SCREENSHOTS else None


def screenshot_digest() -> Digest:
    """The sample's real papers (authors, links, upvotes, categories) ranked for "language models"
    and "reasoning" as delivery ranks them: 20 papers, four of them trending picks."""
    return ranked_sample_digest()


def save(shot: Path, target: Path) -> None:
    """Copy a screenshot for the docs, shrunk by pngquant (palette PNG, a third the size) if
    it is installed."""
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        shutil.copyfile(shot, target)
        return
    subprocess.run(
        [pngquant, "--quality=70-95", "--speed=1", "--force", "--output", str(target), str(shot)],
        check=True,
    )


@pytest.fixture(scope="module")
def digest_html() -> str:
    return Renderer(templates_dir()).render(screenshot_digest()).html


NO_HORIZONTAL_SCROLL = "document.scrollingElement.scrollWidth <= window.innerWidth"
OVERFLOWING = """(width) => [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .map((el) => el.tagName + '.' + el.className + ': ' + Math.round(el.getBoundingClientRect().right))"""


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_digest_fits_and_follows_the_colour_scheme(
    browser,
    digest_html: str,
    width: int,
    scheme: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, device_scale_factor=1
    )
    try:
        page = context.new_page()
        page.set_content(digest_html, wait_until="load")
        assert page.locator("td.paper").count() == 10
        assert page.locator("td.compact").count() == 10
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        assert page.evaluate(OVERFLOWING, width) == []
        # The inlined styles apply, and the dark rules beat them only in the dark.
        assert (
            page.evaluate("getComputedStyle(document.querySelector('.title')).fontWeight") == "700"
        )
        container = page.evaluate(
            "getComputedStyle(document.querySelector('.container')).backgroundColor"
        )
        link = page.evaluate("getComputedStyle(document.querySelector('.title a')).color")
        if scheme == "dark":
            assert (container, link) == ("rgb(22, 27, 34)", "rgb(121, 184, 255)")
        else:
            assert (container, link) == ("rgb(255, 255, 255)", "rgb(11, 87, 208)")
        # The phone layout drops the outer padding; the card is never wider than 600 px.
        card = page.evaluate("document.querySelector('.container').getBoundingClientRect().width")
        assert card <= 600 and (width > 620 or card == width)
        assert not page.locator(".preheader").is_visible()

        height = min(CLIP_HEIGHT, page.evaluate("document.documentElement.scrollHeight"))
        name = f"email-{width}-{scheme}.png"
        shot = tmp_path / name
        page.screenshot(
            path=str(shot), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
        )
        assert shot.stat().st_size > 10_000
        if SCREENSHOTS_DIR is not None:
            SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
            save(shot, SCREENSHOTS_DIR / name)
    finally:
        context.close()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_quiet_day_note_fits_a_phone(browser, scheme: str) -> None:  # type: ignore[no-untyped-def]
    html = Renderer(templates_dir()).render(sample_digest([])).html
    context = browser.new_context(viewport={"width": 375, "height": 700}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_content(html, wait_until="load")
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        assert page.evaluate(OVERFLOWING, 375) == []
        assert "Nothing new for your topics today" in page.inner_text(".summary")
        assert page.locator(".empty a").inner_text() == "Add or change your topics"
    finally:
        context.close()


@pytest.mark.parametrize("styles", ["with <style>", "inline styles only"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_hostile_papers_never_scroll_sideways_on_a_phone(browser, scheme: str, styles: str) -> None:  # type: ignore[no-untyped-def]
    """A 300-character word, RTL and CJK titles, emoji, a bidi override: no horizontal scroll
    at 375 px, in the full and the compact layout, also where a client drops the <style> block."""
    html = Renderer(templates_dir()).render(hostile_digest(14)).html
    if styles == "inline styles only":
        head, _, rest = html.partition("<style>")
        html = head + rest.partition("</style>")[2]
        assert "<style" not in html
    context = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_content(html, wait_until="load")
        assert page.locator("td.paper").count() == 10 and page.locator("td.compact").count() == 4
        assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(
            "document.scrollingElement.scrollWidth"
        )
        assert page.evaluate(OVERFLOWING, 375) == []
        rtl = page.locator("h2.title", has_text="نموذج").first
        assert rtl.evaluate("(el) => getComputedStyle(el).direction") == "rtl"
        assert "\u202e" not in page.inner_text("body")
    finally:
        context.close()
