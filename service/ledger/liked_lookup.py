"""Liked papers the ledger does not have yet, looked up in arXiv's export API by id.

A reader seeds an interest with papers they like (ids, a BibTeX file, a Zotero export); many
are older than anything the sources listed. Those are asked from the export API (`id_list=`,
`arxiv.MAX_ID_LIST` ids a request, through the process's arXiv gate: one request at a time,
3 s apart) and stored through the usual ingest path as one `ingest_runs` row, so they are
papers like any other and get their embeddings. Only the ids asked for are stored, whatever
else an answer holds. They are history, not news: their first-seen time is the end of the oldest
submission day among them (never later than now), so they do not land in the next digest.

An id the API does not answer for is reported in `unknown` and nothing is stored for it; a
look-up that fails (arXiv down, a broken answer) leaves every missing id unknown, with the error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.errors import SourceError
from service.ledger.ingest import run_ingest, utcnow
from service.ledger.source_runs import _embeds
from service.records import ParseResult
from service.sources import arxiv
from service.sources.http import Fetcher
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)


@dataclass(slots=True)
class LikedLookup:
    """Which liked ids the ledger now holds (arXiv id → paper id, in the order asked)."""

    found: dict[str, int] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)  # found through the export API just now
    unknown: list[str] = field(default_factory=list)  # not stored: arXiv had no such paper
    error: str | None = None  # the look-up failed; its ids are in unknown


def resolve_liked(
    factory: sessionmaker[Session], *, settings: Any, fetcher: Fetcher | None, ids: Sequence[str],
    now: dt.datetime | None = None,
) -> LikedLookup:  # fmt: skip
    """The paper ids of these arXiv ids (no version), looking up in arXiv the ones not stored.

    ``fetcher`` None: no look-up (the ids the ledger lacks are unknown).
    """
    wanted = list(dict.fromkeys(ids))
    with session_scope(factory) as session:
        known = store.paper_ids(session, keys=wanted)
    missing = [arxiv_id for arxiv_id in wanted if arxiv_id not in known]
    result = LikedLookup()
    if missing and fetcher is not None:
        try:
            _fetch(factory, settings=settings, fetcher=fetcher, ids=missing, now=now or utcnow())
        except SourceError as exc:
            result.error = str(exc)
            log.warning("liked_lookup_failed", ids=len(missing), error=str(exc))
        with session_scope(factory) as session:
            known = store.paper_ids(session, keys=wanted)
    result.found = {arxiv_id: known[arxiv_id] for arxiv_id in wanted if arxiv_id in known}
    result.fetched = [arxiv_id for arxiv_id in missing if arxiv_id in known]
    result.unknown = [arxiv_id for arxiv_id in wanted if arxiv_id not in known]
    log.info(
        "liked_resolved",
        asked=len(wanted),
        stored=len(wanted) - len(missing),
        fetched=len(result.fetched),
        unknown=len(result.unknown),
    )
    return result


def _fetch(
    factory: sessionmaker[Session], *, settings: Any, fetcher: Fetcher, ids: list[str],
    now: dt.datetime,
) -> None:  # fmt: skip
    asked = set(ids)

    def parse() -> ParseResult:
        combined = ParseResult()
        for document in arxiv.lookup_ids(fetcher, api_base=settings.arxiv_api_url, ids=ids):
            combined.listings.extend(
                listing for listing in document.parsed.listings if listing.arxiv_id in asked
            )
        return combined

    def seen_at(parsed: ParseResult) -> dt.datetime | None:
        days = [listing.published for listing in parsed.listings if listing.published]
        if not days:
            return None
        return min(dt.datetime.combine(min(days), dt.time(23, 59), tzinfo=dt.UTC), now)

    url = arxiv.query_url(settings.arxiv_api_url)
    run_ingest(
        factory,
        source="arxiv",
        input_name=f"{url}?id_list={','.join(ids)}",
        now=now,
        parse=parse,
        seen_at=seen_at,
        embed=_embeds(settings),
    )
