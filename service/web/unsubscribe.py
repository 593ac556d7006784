"""``/unsubscribe/{token}``: a page with one button, and the RFC 8058 one-click POST that
``List-Unsubscribe`` points at (no cookies, no redirect, 200, idempotent). ``/unsubscribed/{token}``
is the page after leaving (the manage page's Unsubscribe lands there), with an undo: a POST to
``/unsubscribe/{token}/undo`` resubscribes with the settings kept."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from service.storage import store
from service.storage.engine import session_scope
from service.subscribers.tokens import TokenError
from service.web.context import Web, id_in

log = logging.getLogger(__name__)

STOPPABLE = ("pending", "active", "paused")


def router(web: Web) -> APIRouter:
    api = APIRouter()

    def subscriber_id_of(token: str) -> int:
        return id_in(web.runtime.signer.read("unsubscribe", token))

    def left_page(request: Request, token: str) -> Response:
        """You are unsubscribed: undo (a POST with CSRF), or subscribe anew on the landing page."""
        return web.page(request, "unsubscribe.html", {"token": token, "state": "done"}, form=True)

    @api.get("/unsubscribe/{token}")
    def unsubscribe_page(request: Request, token: str) -> Response:
        # A GET never changes anything: mail scanners follow links.
        try:
            subscriber_id_of(token)
        except TokenError as exc:
            return web.bad_link(request, str(exc))
        return web.page(request, "unsubscribe.html", {"token": token, "state": "ask"})

    @api.post("/unsubscribe/{token}")
    async def unsubscribe(request: Request, token: str) -> Response:
        """RFC 8058 one-click and the page's button alike.

        No CSRF cookie is asked for: a mail client posting ``List-Unsubscribe=One-Click`` has
        none, and the signed token in the path is itself the secret a forger would need.
        """
        try:
            subscriber_id = subscriber_id_of(token)
        except TokenError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        with session_scope(web.runtime.factory) as session:
            # A bounced or complained address keeps that status (it is never mailed either way),
            # so the undo cannot turn it back to active.
            changed = store.set_subscriber_status(
                session, subscriber_id=subscriber_id, status="unsubscribed", only_from=STOPPABLE
            )
        if changed:
            log.info("unsubscribed subscriber_id=%s via=link", subscriber_id)
        if "text/html" in request.headers.get("accept", ""):
            return left_page(request, token)
        return PlainTextResponse("You are unsubscribed.")

    @api.get("/unsubscribed/{token}")
    def unsubscribed_page(request: Request, token: str) -> Response:
        try:
            subscriber_id = subscriber_id_of(token)
        except TokenError as exc:
            return web.bad_link(request, str(exc))
        with session_scope(web.runtime.factory) as session:
            subscriber = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
            status = subscriber.status if subscriber is not None else None
        if status != "unsubscribed":  # undone since, or never: the settings page tells
            manage = web.runtime.signer.make("manage", s=subscriber_id)
            return RedirectResponse(f"/manage/{manage}", status_code=303)
        return left_page(request, token)

    @api.post("/unsubscribe/{token}/undo")
    def undo(request: Request, token: str, csrf_token: str = Form("")) -> Response:
        """Subscribe again with the settings kept; only from ``unsubscribed`` (never a bounced or
        complained address). Then the settings page, saying so."""
        if not web.csrf.valid(request, csrf_token):
            return web.forbidden_form(request)
        try:
            subscriber_id = subscriber_id_of(token)
        except TokenError as exc:
            return web.bad_link(request, str(exc))
        with session_scope(web.runtime.factory) as session:
            changed = store.set_subscriber_status(
                session, subscriber_id=subscriber_id, status="active", only_from=("unsubscribed",)
            )
        if changed:
            log.info("resubscribed subscriber_id=%s via=undo", subscriber_id)
        manage = web.runtime.signer.make("manage", s=subscriber_id)
        notice = "?notice=resubscribed" if changed else ""
        return RedirectResponse(f"/manage/{manage}{notice}", status_code=303)

    return api
