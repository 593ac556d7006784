"""``/unsubscribe/{token}``: a page with one button, and the RFC 8058 one-click POST that
``List-Unsubscribe`` points at (no cookies, no redirect, 200, idempotent). ``/unsubscribed/{token}``
is the page after leaving (the manage page's Unsubscribe lands there), with an undo: a POST to
``/unsubscribe/{token}/undo`` resubscribes with the settings kept."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from service import logs
from service.storage import store
from service.subscribers.tokens import Signer, TokenError
from service.web.deps import PagesDep, SessionDep, SignerDep
from service.web.links import id_in
from service.web.pages import Pages

log = logs.get_logger(__name__)

STOPPABLE = ("pending", "active", "paused")


router = APIRouter()


def subscriber_id_of(signer: Signer, token: str) -> int:
    return id_in(signer.read("unsubscribe", token))


def left_page(request: Request, pages: Pages, token: str) -> Response:
    """You are unsubscribed: undo (a POST with CSRF), or subscribe anew on the landing page."""
    return pages.page(request, "unsubscribe.html", {"token": token, "state": "done"}, form=True)


@router.get("/unsubscribe/{token}")
def unsubscribe_page(request: Request, token: str, signer: SignerDep, pages: PagesDep) -> Response:
    # A GET never changes anything: mail scanners follow links.
    try:
        subscriber_id_of(signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    return pages.page(request, "unsubscribe.html", {"token": token, "state": "ask"})


@router.post("/unsubscribe/{token}")
async def unsubscribe(
    request: Request, token: str, session: SessionDep, signer: SignerDep, pages: PagesDep
) -> Response:
    """RFC 8058 one-click and the page's button alike.

    No CSRF cookie is asked for: a mail client posting ``List-Unsubscribe=One-Click`` has
    none, and the signed token in the path is itself the secret a forger would need.
    """
    try:
        subscriber_id = subscriber_id_of(signer, token)
    except TokenError as exc:
        return PlainTextResponse(str(exc), status_code=400)
    # A bounced or complained address keeps that status (it is never mailed either way),
    # so the undo cannot turn it back to active.
    changed = store.set_subscriber_status(
        session, subscriber_id=subscriber_id, status="unsubscribed", only_from=STOPPABLE
    )
    session.commit()
    if changed:
        log.info("unsubscribed", subscriber_id=subscriber_id, via="link")
    if "text/html" in request.headers.get("accept", ""):
        return left_page(request, pages, token)
    return PlainTextResponse("You are unsubscribed.")


@router.get("/unsubscribed/{token}")
def unsubscribed_page(
    request: Request, token: str, session: SessionDep, signer: SignerDep, pages: PagesDep
) -> Response:
    try:
        subscriber_id = subscriber_id_of(signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    subscriber = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
    status = subscriber.status if subscriber is not None else None
    if status != "unsubscribed":  # undone since, or never: the settings page tells
        manage = signer.make("manage", s=subscriber_id)
        return RedirectResponse(f"/manage/{manage}", status_code=303)
    return left_page(request, pages, token)


@router.post("/unsubscribe/{token}/undo")
def undo(
    request: Request,
    token: str,
    session: SessionDep,
    signer: SignerDep,
    pages: PagesDep,
    csrf_token: str = Form(""),
) -> Response:
    """Subscribe again with the settings kept; only from ``unsubscribed`` (never a bounced or
    complained address). Then the settings page, saying so."""
    if not pages.csrf.valid(request, csrf_token):
        return pages.forbidden_form(request)
    try:
        subscriber_id = subscriber_id_of(signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    changed = store.set_subscriber_status(
        session, subscriber_id=subscriber_id, status="active", only_from=("unsubscribed",)
    )
    session.commit()
    if changed:
        log.info("resubscribed", subscriber_id=subscriber_id, via="undo")
    manage = signer.make("manage", s=subscriber_id)
    notice = "?notice=resubscribed" if changed else ""
    return RedirectResponse(f"/manage/{manage}{notice}", status_code=303)
