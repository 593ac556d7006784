"""``/feedback/{token}?p=…&v=…``: the "more / less like this" links of every digest.

The token is the digest's one signed token, the vote in the query; ``web/paper_link.py`` reads
and checks both (and the per-link tokens of digests sent before, without a query).

The GET shows the vote and a button; the POST records it. Link scanners in mail gateways fetch
every GET, and a vote they cast would skew the reader's ranking. A small script submits the
form on load for people with JavaScript, so a click in the email still reads as one action;
a scanner that runs scripts could cast a vote, which the reader's own next click replaces.

A "more like this" link of a paper picked for one of the reader's interests names it (``i``):
the paper also becomes a liked paper of that interest (the manage page lists it, with a button
to remove it again). The archive page has the same link on each paper.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from service import logs
from service.delivery.seeding import like_paper
from service.storage import store
from service.subscribers.tokens import TokenError
from service.web.deps import ClockDep, PagesDep, SessionDep, SignerDep
from service.web.paper_link import read

log = logs.get_logger(__name__)


router = APIRouter()


@router.get("/feedback/{token}")
def feedback_page(
    request: Request, token: str, session: SessionDep, signer: SignerDep, pages: PagesDep
) -> Response:
    try:
        link = read(session, signer, token, request.query_params, "feedback")
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    return pages.page(
        request,
        "feedback.html",
        {"action": link.action, "vote": link.vote, "title": link.paper.title, "done": False},
        form=True,
    )


@router.post("/feedback/{token}")
def feedback(
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
        link = read(session, signer, token, request.query_params, "feedback")
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    subscriber_id, paper_id, vote, title = (
        link.subscriber.id,
        link.paper.paper_id,
        link.vote,
        link.paper.title,
    )
    changed = store.record_feedback(
        session, subscriber_id=subscriber_id, paper_id=paper_id, vote=vote, now=clock()
    )
    liked_for = None
    if vote == 1:
        liked_for = like_paper(
            session, subscriber_id=subscriber_id, interest_id=link.interest_id,
            paper_id=paper_id, now=clock(),
        )  # fmt: skip
    session.commit()
    log.info(
        "feedback", subscriber_id=subscriber_id, paper_id=paper_id, vote=vote, changed=changed,
        liked=liked_for is not None,
    )  # fmt: skip
    manage = signer.make("manage", s=subscriber_id)
    return pages.page(
        request,
        "feedback.html",
        {"vote": vote, "title": title, "done": True, "manage_url": f"/manage/{manage}",
         "interest": liked_for},
    )  # fmt: skip
