"""``/steer/{token}``: "Mute <author>" and "Not interested in “<phrase>”" under every digest paper.

The GET shows what the link will do and one button; the POST (with CSRF) adds the exclude
topic to the interest the paper was picked for (``exclude:author:<name>`` or
``exclude:<phrase>``). Unlike a vote the page is not submitted by script: a link scanner must
not be able to hide papers from a reader. The manage page lists the exclude like any topic, and
removing it there undoes it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from service import logs
from service.storage import store
from service.subscribers.steering import author_exclude, steer_label
from service.subscribers.tokens import Signer, TokenError
from service.subscribers.validation import MAX_TOPIC_LENGTH
from service.web.deps import ClockDep, PagesDep, SessionDep, SignerDep
from service.web.links import id_in

log = logs.get_logger(__name__)

router = APIRouter()


def read(session: Session, signer: Signer, token: str) -> dict[str, Any]:
    """What the link says: subscriber, paper, kind, text; TokenError for a bad link."""
    payload = signer.read("steer", token)
    subscriber_id, paper_id = id_in(payload, "s"), id_in(payload, "p")
    kind, text = payload.get("k"), payload.get("t")
    if kind not in ("author", "phrase") or not isinstance(text, str):
        raise TokenError("this link is not valid")
    text = " ".join(text.split())
    if not text or len(text) > MAX_TOPIC_LENGTH - len("author:"):
        raise TokenError("this link is not valid")
    papers = store.papers_by_id(session, ids=[paper_id])
    subscriber = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
    if paper_id not in papers or subscriber is None:
        raise TokenError("this paper or subscription no longer exists")
    return {
        "subscriber": subscriber, "paper_id": paper_id, "kind": kind, "text": text,
        "title": papers[paper_id].title, "label": steer_label(kind, text),
        "exclude": author_exclude(text) if kind == "author" else text,
    }  # fmt: skip


@router.get("/steer/{token}")
def steer_page(
    request: Request, token: str, session: SessionDep, signer: SignerDep, pages: PagesDep
) -> Response:
    try:
        link = read(session, signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    context = {k: link[k] for k in ("kind", "text", "title", "label")}
    return pages.page(request, "steer.html", {**context, "token": token, "done": False}, form=True)


@router.post("/steer/{token}")
def steer(
    request: Request,
    token: str,
    session: SessionDep,
    signer: SignerDep,
    pages: PagesDep,
    clock: ClockDep,
    csrf_token: str = Form(""),
) -> Response:
    if not pages.csrf.valid(request, csrf_token):
        return pages.forbidden_form(request)
    try:
        link = read(session, signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    subscriber = link["subscriber"]
    interest_id = payload_interest(signer, token)
    interest, added = store.add_exclude_topic(
        session, subscriber=subscriber, text=link["exclude"], interest_id=interest_id, now=clock()
    )
    session.commit()
    log.info(
        "steer",
        subscriber_id=subscriber.id,
        paper_id=link["paper_id"],
        kind=link["kind"],
        added=added,
    )
    manage = signer.make("manage", s=subscriber.id)
    context = {k: link[k] for k in ("kind", "text", "title", "label")}
    return pages.page(
        request,
        "steer.html",
        {**context, "done": True, "interest": interest, "manage_url": f"/manage/{manage}"},
    )


def payload_interest(signer: Signer, token: str) -> int | None:
    """The interest the paper was picked for, when the link names one (``i``)."""
    payload = signer.read("steer", token)
    return id_in(payload, "i") if "i" in payload else None
