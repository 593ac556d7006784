"""``/steer/{token}?p=…&k=…&t=…``: "Mute <author>" and "Not interested in “<phrase>”" under
every digest paper.

The token is the digest's one signed token, the action in the query; ``web/paper_link.py`` reads
and checks both (the name must be one of the paper's authors, the phrase in its title), and the
per-link tokens of digests sent before (no query).

The GET shows what the link will do and one button; the POST (with CSRF) adds the exclude
topic to the interest the paper was picked for (``exclude:author:<name>`` or
``exclude:<phrase>``). Unlike a vote the page is not submitted by script: a link scanner must
not be able to hide papers from a reader. The manage page lists the exclude like any topic, and
removing it there undoes it.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from service import logs
from service.storage import store
from service.subscribers.steering import author_exclude, steer_label
from service.subscribers.tokens import TokenError
from service.web.deps import ClockDep, PagesDep, SessionDep, SignerDep
from service.web.paper_link import PaperLink, read

log = logs.get_logger(__name__)

router = APIRouter()


@router.get("/steer/{token}")
def steer_page(
    request: Request, token: str, session: SessionDep, signer: SignerDep, pages: PagesDep
) -> Response:
    try:
        link = read(session, signer, token, request.query_params, "steer")
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    return pages.page(
        request, "steer.html", {**_context(link), "action": link.action, "done": False}, form=True
    )


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
        link = read(session, signer, token, request.query_params, "steer")
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    subscriber = link.subscriber
    exclude = author_exclude(link.text) if link.kind == "author" else link.text
    interest, added = store.add_exclude_topic(
        session, subscriber=subscriber, text=exclude, interest_id=link.interest_id, now=clock()
    )
    session.commit()
    log.info(
        "steer",
        subscriber_id=subscriber.id,
        paper_id=link.paper.paper_id,
        kind=link.kind,
        added=added,
    )
    manage = signer.make("manage", s=subscriber.id)
    return pages.page(
        request,
        "steer.html",
        {**_context(link), "done": True, "interest": interest, "manage_url": f"/manage/{manage}"},
    )


def _context(link: PaperLink) -> dict[str, str]:
    return {
        "kind": link.kind, "text": link.text, "title": link.paper.title,
        "label": steer_label(link.kind, link.text),
    }  # fmt: skip
