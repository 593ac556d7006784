"""Seeding an interest from papers the reader likes: arXiv ids or URLs, a BibTeX file, a Zotero
CSL JSON export — from the command line (``paperboy interests add/like``) and the manage page.

`read_liked` parses what was handed over (`subscribers.liked_papers`: a word that is not an id,
a broken entry, an entry without an arXiv id are listed in ``rejected`` with their line or item;
a file that is neither format, or more than ``MAX_LIKES`` papers, raises InputError). `seed_interest`
then looks up in arXiv's export API the ids the ledger lacks (`ledger.liked_lookup`, stored
through the ingest path), and likes the papers found for the interest. An id arXiv does not know
is reported in ``not_found`` and nothing is stored for it; papers the interest already likes are
reported in ``already``. The limit is checked before anything is asked from arXiv.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.errors import InputError
from service.ledger.ingest import utcnow
from service.ledger.liked_lookup import resolve_liked
from service.sources.http import Fetcher
from service.storage import store
from service.storage.engine import session_scope
from service.storage.interests import MAX_LIKES
from service.subscribers.liked_papers import LikedImport, parse_file, parse_ids

log = logs.get_logger(__name__)


@dataclass(slots=True)
class SeedReport:
    """What seeding did: arXiv ids added, already liked, unknown to arXiv; rejected input."""

    interest: str
    interest_id: int
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)  # of added/already: asked from arXiv now
    error: str | None = None  # the arXiv look-up failed (its ids are in not_found)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "interest": self.interest, "added": self.added, "already_liked": self.already,
            "not_found": self.not_found, "rejected": self.rejected, "fetched": self.fetched,
        }  # fmt: skip
        if self.error:
            data["error"] = self.error
        return data

    def summary(self) -> str:
        parts = [f"{len(self.added)} added"]
        if self.already:
            parts.append(f"{len(self.already)} already liked")
        if self.not_found:
            parts.append(f"{len(self.not_found)} not found on arXiv ({', '.join(self.not_found)})")
        if self.rejected:
            parts.append(f"{len(self.rejected)} rejected")
        return f"liked papers of {self.interest!r}: " + ", ".join(parts)


def read_liked(ids: Iterable[str] = (), files: Sequence[tuple[str, bytes]] = ()) -> LikedImport:
    """The liked papers of ids/URLs and of (name, content) .bib/.json files, each id once.

    InputError for a file that cannot be read at all or more than ``MAX_LIKES`` papers in all."""
    combined = parse_ids(list(ids))
    for name, data in files:
        found = parse_file(name, data)
        for ref in found.papers:
            combined.add(ref)
        combined.rejected.extend(f"{name}: {reason}" for reason in found.rejected)
    if len(combined.papers) > MAX_LIKES:
        raise InputError(
            f"too many liked papers: {len(combined.papers)}; an interest holds at most {MAX_LIKES}"
        )
    return combined


def seed_interest(
    factory: sessionmaker[Session], *, settings: Any, fetcher: Fetcher | None, subscriber_id: int,
    interest_id: int, liked: LikedImport, now: dt.datetime | None = None,
) -> SeedReport:  # fmt: skip
    """Like ``liked`` for the interest, looking up in arXiv the papers the ledger lacks.

    InputError (nothing asked, nothing added) when the interest would hold more than
    ``MAX_LIKES`` papers or is not the subscriber's."""
    now = now or utcnow()
    ids = liked.ids
    with session_scope(factory) as session:
        interest = _interest(session, subscriber_id, interest_id)
        report = SeedReport(interest=interest.name, interest_id=interest.id)
        report.rejected = list(liked.rejected)
        have = {lk.paper_id for lk in interest.likes}
        known = store.paper_ids(session, keys=ids)
        report.already = [i for i in ids if known.get(i) in have]
        if len(have) + len(ids) - len(report.already) > MAX_LIKES:
            raise InputError(
                f"interest {interest.name!r}: at most {MAX_LIKES} liked papers (it has "
                f"{len(have)}, {len(ids) - len(report.already)} more given); keep the closest"
            )
    wanted = [i for i in ids if i not in report.already]
    lookup = resolve_liked(factory, settings=settings, fetcher=fetcher, ids=wanted, now=now)
    report.not_found, report.fetched, report.error = lookup.unknown, lookup.fetched, lookup.error
    titles = {ref.arxiv_id: ref.title for ref in liked.papers}
    with session_scope(factory) as session:
        interest = _interest(session, subscriber_id, interest_id)
        papers = store.papers_by_id(session, ids=list(lookup.found.values()))
        likes = [
            (pid, papers[pid].title if pid in papers else titles.get(arxiv_id, arxiv_id))
            for arxiv_id, pid in lookup.found.items()
        ]
        store.add_interest_likes(session, interest=interest, likes=likes, now=now)
        report.added = list(lookup.found)
        session.commit()
    log.info(
        "interest_seeded", subscriber_id=subscriber_id, interest_id=interest_id,
        added=len(report.added), already=len(report.already), not_found=len(report.not_found),
        rejected=len(report.rejected),
    )  # fmt: skip
    return report


def like_paper(
    session: Session, *, subscriber_id: int, interest_id: int | None, paper_id: int,
    now: dt.datetime,
) -> str | None:  # fmt: skip
    """ "More like this": the paper becomes a liked paper of the interest it was picked for.

    Returns the interest's name, or None when the link names no interest (or one since removed).
    The caller commits."""
    if interest_id is None:
        return None
    interest = store.get_interest_by_id(
        session, subscriber_id=subscriber_id, interest_id=interest_id
    )
    if interest is None:
        return None
    papers = store.papers_by_id(session, ids=[paper_id])
    if paper_id not in papers:
        return None
    try:
        store.add_interest_likes(
            session, interest=interest, likes=[(paper_id, papers[paper_id].title)], now=now
        )
    except InputError:
        return None  # the interest is full: the vote alone still counts
    return interest.name


def _interest(session: Session, subscriber_id: int, interest_id: int) -> Any:
    interest = store.get_interest_by_id(
        session, subscriber_id=subscriber_id, interest_id=interest_id
    )
    if interest is None:
        raise InputError("that interest no longer exists")
    return interest
