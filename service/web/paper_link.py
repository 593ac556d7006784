"""Reading a digest's paper link, for ``/feedback/…`` and ``/steer/…`` alike.

Two forms reach these pages. A digest's links carry its one ``digest`` token in the path and
the action in the query (``?p=…``; ``subscribers/paper_links.py`` says why that is safe); links
in digests sent before that carry a token per link (purpose ``feedback`` or ``steer``, the
action signed in it, no query). The presence of ``p`` in the query tells them apart.

Everything the query says is checked here, as nothing signs it: ``p``, ``v`` and ``i`` are
integers (``v`` 1 or -1), the paper and the subscriber exist, ``k`` is author or phrase and
``t`` one of the paper's authors or a phrase of its title, within the topic length. The
interest ``i`` is only ever looked up among the subscriber's own (``store.get_interest_by_id``).
Anything else is a bad link: TokenError "this link is not valid", never a server error.

The page's form posts back to ``action``, rebuilt from the checked values (never the raw
query), and the POST reads and checks the link again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from service.records import Candidate
from service.storage import store
from service.subscribers import paper_links
from service.subscribers.tokens import Signer, TokenError
from service.subscribers.validation import MAX_TOPIC_LENGTH
from service.web.links import MAX_ID, id_in

BAD = "this link is not valid"
_DIGITS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class PaperLink:
    subscriber: Any  # the storage row
    paper: Candidate
    interest_id: int | None  # the interest the paper was picked for, when the link names one
    action: str  # where the page's form posts: the link, rebuilt from the checked values
    vote: int = 0  # feedback
    kind: str = ""  # steer: author or phrase
    text: str = ""  # steer: the name or phrase, whitespace normalised


def _int(value: str | None) -> int:
    if value is None or not _DIGITS.fullmatch(value) or not 0 < int(value) <= MAX_ID:
        raise TokenError(BAD)
    return int(value)


def _steer_text(kind: object, text: object) -> tuple[str, str]:
    if kind not in paper_links.KINDS or not isinstance(text, str):
        raise TokenError(BAD)
    text = " ".join(text.split())
    if not text or len(text) > MAX_TOPIC_LENGTH - len("author:"):
        raise TokenError(BAD)
    return str(kind), text


def read(
    session: Session, signer: Signer, token: str, query: QueryParams, purpose: str
) -> PaperLink:
    """The link of ``/{purpose}/{token}?{query}`` (purpose ``feedback`` or ``steer``), checked;
    TokenError for a bad, expired or forged one."""
    if "p" in query:
        subscriber_id = id_in(signer.read("digest", token))
        paper_id = _int(query.get("p"))
        interest_id = _int(query.get("i")) if "i" in query else None
        fields: dict[str, Any] = {
            "vote": query.get("v"),
            "kind": query.get("k"),
            "text": query.get("t"),
        }
        if fields["vote"] in ("1", "-1"):
            fields["vote"] = int(fields["vote"])
    else:  # a link of a digest sent before the digest token: the action is signed in it
        payload = signer.read(purpose, token)
        subscriber_id, paper_id = id_in(payload, "s"), id_in(payload, "p")
        interest_id = id_in(payload, "i") if "i" in payload else None
        fields = {"vote": payload.get("v"), "kind": payload.get("k"), "text": payload.get("t")}
    link: dict[str, Any] = {}
    if purpose == "feedback":
        vote = fields["vote"]
        if isinstance(vote, bool) or vote not in (1, -1):
            raise TokenError(BAD)
        link["vote"] = vote
    else:
        link["kind"], link["text"] = _steer_text(fields["kind"], fields["text"])
    papers = store.papers_by_id(session, ids=[paper_id])
    subscriber = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
    if paper_id not in papers or subscriber is None:
        raise TokenError("this paper or subscription no longer exists")
    paper = papers[paper_id]
    if "p" not in query:
        action = f"/{purpose}/{token}"
    elif purpose == "feedback":
        action = paper_links.feedback_url("", token, paper_id, link["vote"], interest_id)
    else:
        if not paper_links.belongs(paper, link["kind"], link["text"]):
            raise TokenError(BAD)
        action = paper_links.steer_url("", token, paper_id, link["kind"], link["text"], interest_id)
    return PaperLink(subscriber, paper, interest_id, action, **link)
