"""``/unsubscribe/{token}``: a page with one button, and the RFC 8058 one-click POST that
``List-Unsubscribe`` points at (no cookies, no redirect, 200, idempotent)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from service import store
from service.db import session_scope
from service.tokens import TokenError
from service.web.context import Web

log = logging.getLogger(__name__)


def router(web: Web) -> APIRouter:
    api = APIRouter()

    @api.get("/unsubscribe/{token}")
    def unsubscribe_page(request: Request, token: str) -> Response:
        # A GET never changes anything: mail scanners follow links.
        try:
            web.runtime.signer.read("unsubscribe", token)
        except TokenError as exc:
            return web.bad_link(request, str(exc))
        return web.page(request, "unsubscribe.html", {"token": token, "done": False})

    @api.post("/unsubscribe/{token}")
    async def unsubscribe(request: Request, token: str) -> Response:
        """RFC 8058 one-click and the page's button alike.

        No CSRF cookie is asked for: a mail client posting ``List-Unsubscribe=One-Click`` has
        none, and the signed token in the path is itself the secret a forger would need.
        """
        try:
            payload = web.runtime.signer.read("unsubscribe", token)
        except TokenError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        subscriber_id = int(payload["s"])
        with session_scope(web.runtime.factory) as session:
            changed = store.set_subscriber_status(
                session, subscriber_id=subscriber_id, status="unsubscribed"
            )
        if changed:
            log.info("unsubscribed subscriber_id=%s via=link", subscriber_id)
        if "text/html" in request.headers.get("accept", ""):
            response = web.templates.TemplateResponse(
                request, "unsubscribe.html", {"token": token, "done": True}
            )
            response.headers["Cache-Control"] = "no-store"
            return response
        return PlainTextResponse("You are unsubscribed.")

    return api
