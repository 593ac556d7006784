"""Thumbs-up / thumbs-down on a paper, from the CLI or a signed link in an email.

A paper is named by its arXiv id (any spelling: ``2508.13426``, ``arXiv:2508.13426v2``, an
abs/pdf URL) or by its internal id; a vote is ``up``/``down`` (or ``+1``/``-1``). The web front
and ``paperboy feedback`` both call ``cast_vote``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from service.errors import InputError
from service.sources.arxiv_ids import parse_arxiv_id
from service.storage import store

VOTE_WORDS = {"up": 1, "+1": 1, "1": 1, "down": -1, "-1": -1}


def parse_vote(text: str | int) -> int:
    """+1 or -1 from ``up``/``down``/``+1``/``-1``; InputError names anything else."""
    vote = VOTE_WORDS.get(str(text).strip().lower())
    if vote is None:
        raise InputError(f"invalid vote {text!r}: use up or down")
    return vote


def resolve_paper(session: Session, ref: str | int) -> int:
    """The internal id of the paper ``ref`` names (arXiv id or internal id); InputError otherwise."""
    text = str(ref).strip()
    if text.isdigit():
        found = store.find_paper_ids(session, paper_id=int(text))
        if found:
            return found[0]
        raise InputError(
            f"no paper with internal id {text!r} (give an arXiv id such as 2508.13426, or an id from preview --json)"
        )
    parsed = parse_arxiv_id(text)
    if parsed is None:
        raise InputError(
            f"invalid paper id {text!r}: give an arXiv id such as 2508.13426, or an internal id"
        )
    found = store.find_paper_ids(session, arxiv_id=parsed[0])
    if not found:
        raise InputError(f"no paper with arXiv id {parsed[0]!r} (from {text!r}) has been seen")
    return found[0]


def cast_vote(
    session: Session, *, email: str, paper: str | int, vote: str | int, now: dt.datetime
) -> tuple[int, int, bool]:
    """Record ``email``'s vote on ``paper``: (paper id, vote, whether the stored vote changed)."""
    subscriber = store.get_subscriber(session, email=email)
    if subscriber is None:
        raise InputError(f"no subscriber {email!r}")
    value = parse_vote(vote)
    paper_id = resolve_paper(session, paper)
    changed = store.record_feedback(
        session, subscriber_id=subscriber.id, paper_id=paper_id, vote=value, now=now
    )
    return paper_id, value, changed
