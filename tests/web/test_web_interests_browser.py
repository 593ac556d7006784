"""Interests in headless Chromium against `paperboy serve`: a reader adds a second interest on
the manage page, gives it a topic, and the live preview shows two sections; the page fits a
phone (375 px) and a desktop (1280 px)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from service.delivery.runtime import Runtime
from service.settings import load_settings
from service.storage import store
from service.storage.engine import session_scope
from tests.web.test_web_browser import Server, server, shoot  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


def manage_url(server: Server) -> str:  # noqa: F811
    runtime = Runtime(load_settings(database_url=server.env["PAPERBOY_DATABASE_URL"]))
    try:
        with session_scope(runtime.factory) as session:
            sid = store.add_subscriber(
                session, email="ada@example.org", status="active", timezone="UTC",
                delivery_hour=8, cadence="daily", max_papers=6,
                topics=[("keyword", "reasoning", 1.0)], now=dt.datetime.now(dt.UTC),
            ).id  # fmt: skip
        return f"{server.url}/manage/{runtime.signer.make('manage', s=sid)}"
    finally:
        runtime.engine.dispose()


def sections(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("#preview h3.preview-section").all_text_contents()


def test_a_second_interest_makes_two_sections_in_the_preview(
    server: Server,  # noqa: F811
    browser,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    url = manage_url(server)
    for width in (375, 1280):
        context = browser.new_context(
            viewport={"width": width, "height": 900}, device_scale_factor=1
        )
        try:
            page = context.new_page()
            page.goto(url)
            if width == 375:
                assert sections(page) == []  # one interest: the preview has no sections
                page.fill("#new-interest", "Motion")
                page.click("text=Add interest")
                page.wait_for_url("**interest=*")
                assert "Motion" in page.inner_text("#settings-title")
                page.fill("#text-1", "motion")
                page.click("button[value=save]")
                page.wait_for_selector("#preview .preview-section")
            assert sections(page) == ["reasoning", "Motion"]
            assert page.locator(".interest").count() == 2
            shoot(page, tmp_path, "web-interests", width)
        finally:
            context.close()
