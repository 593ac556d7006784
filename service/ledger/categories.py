"""arXiv categories for papers that came without them: Hugging Face lists papers by arXiv id only.

A `category:cs.CV` topic matches on the paper's categories, so a Hugging Face paper would never
match one. After each Hugging Face ingest, the papers of the last `RECENT` days that have an
arXiv id and no categories are looked up in arXiv's export API (`id_list=`, `arxiv.MAX_ID_LIST`
ids a request, through the arXiv gate: one request at a time, 3 s apart), and only their
categories are stored; nothing else about the paper changes.

A look-up that fails is logged and never fails the ingest it follows: the papers still have no
categories, so the next run asks again. An id the API does not answer for is asked again on
later runs until it is older than `RECENT`. `paperboy ingest --source arxiv --fill-categories`
fills every stored paper, however old.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.errors import FetchError, SourceError
from service.sources import arxiv
from service.sources.http import Fetcher
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)

RECENT = dt.timedelta(days=14)
MAX_PER_RUN = 5 * arxiv.MAX_ID_LIST  # after an ingest: at most 5 requests (15 s of the arXiv gate)

Progress = Callable[[int, int | None], None]


@dataclass(slots=True)
class FillReport:
    """What one category look-up did."""

    asked: int = 0  # papers looked up
    filled: int = 0  # papers that got categories
    not_found: int = 0  # ids the API did not answer with categories
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "arxiv", "categories_asked": self.asked, "categories_filled": self.filled,
            "categories_not_found": self.not_found, "status": "failed" if self.errors else "ok",
        }  # fmt: skip


def fill_categories(
    factory: sessionmaker[Session], *, settings: Any, fetcher: Fetcher, since: dt.datetime | None = None,
    limit: int | None = None, progress: Progress | None = None,
) -> FillReport:  # fmt: skip
    """Look up and store the categories of papers without; each batch is committed on its own.

    A bad answer for one batch is logged and the next batch goes on; a server that cannot be
    reached ends the run (the rest waits for the next one).
    """
    with session_scope(factory) as session:
        ids = store.arxiv_ids_without_categories(session, since=since, limit=limit)
    report = FillReport()
    for start in range(0, len(ids), arxiv.MAX_ID_LIST):
        chunk = ids[start : start + arxiv.MAX_ID_LIST]
        report.asked += len(chunk)
        try:
            documents = arxiv.lookup_ids(fetcher, api_base=settings.arxiv_api_url, ids=chunk)
        except SourceError as exc:
            report.errors.append(str(exc))
            log.warning("categories_lookup_failed", ids=len(chunk), error=str(exc))
            if isinstance(exc, FetchError):
                break
            continue
        found = {
            listing.arxiv_id: listing.categories
            for document in documents
            for listing in document.parsed.listings
            if listing.arxiv_id in chunk and listing.categories
        }
        with session_scope(factory) as session:
            report.filled += store.fill_categories(session, categories=found)
        report.not_found += len(set(chunk) - set(found))
        if progress is not None:
            progress(len(chunk), len(ids))
    log.info(
        "categories_filled",
        asked=report.asked,
        filled=report.filled,
        not_found=report.not_found,
        errors=len(report.errors),
    )
    return report


def fill_after_ingest(
    factory: sessionmaker[Session], *, settings: Any, fetcher: Fetcher, since: dt.datetime,
    limit: int | None = MAX_PER_RUN,
) -> FillReport | None:  # fmt: skip
    """`fill_categories` as the step after a Hugging Face ingest: it never raises."""
    try:
        return fill_categories(
            factory, settings=settings, fetcher=fetcher, since=since, limit=limit
        )
    except Exception as exc:  # noqa: BLE001 - the ingest it follows has already succeeded
        log.warning("categories_fill_failed", error=str(exc), retry="next run")
        return None
