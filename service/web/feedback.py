"""``/feedback/{token}``: the "more / less like this" links of every digest.

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
from sqlalchemy.orm import Session

from service import logs
from service.delivery.seeding import like_paper
from service.storage import store
from service.subscribers.tokens import Signer, TokenError
from service.web.deps import ClockDep, PagesDep, SessionDep, SignerDep
from service.web.links import id_in

log = logs.get_logger(__name__)


router = APIRouter()


def read(session: Session, signer: Signer, token: str) -> tuple[int, int, int, str]:
    """(subscriber id, paper id, vote, paper title); TokenError for a bad link."""
    payload = signer.read("feedback", token)
    subscriber_id, paper_id, vote = id_in(payload, "s"), id_in(payload, "p"), payload.get("v")
    if isinstance(vote, bool) or vote not in (1, -1):
        raise TokenError("this link is not valid")
    papers = store.papers_by_id(session, ids=[paper_id])
    if (
        paper_id not in papers
        or store.get_subscriber_by_id(session, subscriber_id=subscriber_id) is None
    ):
        raise TokenError("this paper or subscription no longer exists")
    return subscriber_id, paper_id, vote, papers[paper_id].title


@router.get("/feedback/{token}")
def feedback_page(
    request: Request, token: str, session: SessionDep, signer: SignerDep, pages: PagesDep
) -> Response:
    try:
        _s, _p, vote, title = read(session, signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    return pages.page(
        request,
        "feedback.html",
        {"token": token, "vote": vote, "title": title, "done": False},
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
        subscriber_id, paper_id, vote, title = read(session, signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    changed = store.record_feedback(
        session, subscriber_id=subscriber_id, paper_id=paper_id, vote=vote, now=clock()
    )
    liked_for = None
    if vote == 1:
        liked_for = like_paper(
            session, subscriber_id=subscriber_id, interest_id=payload_interest(signer, token),
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


def payload_interest(signer: Signer, token: str) -> int | None:
    """The interest the paper was picked for, when the link names one (``i``)."""
    payload = signer.read("feedback", token)
    return id_in(payload, "i") if "i" in payload else None
