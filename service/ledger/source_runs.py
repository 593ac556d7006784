"""Run the HTTP sources: fetch (conditionally), parse, ingest in one transaction, log the run.

Each run is one `ingest_runs` row. Everything a run fetched is parsed before anything is
written, and the papers, sightings and the URLs' new validators are committed together, so a
fetch that fails half-way (a page that times out, a truncated body) writes nothing and the
next tick fetches it all again. Sources are isolated: one that is down is recorded `failed`
and the others still run.

Statuses: `ok`; `not_modified` (the server answered 304: nothing new); `no_announcement` (a
valid arXiv feed without items — arXiv's quiet days, see `arxiv_calendar`); `failed`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.errors import PaperboyError, SourceError
from service.ledger import categories
from service.ledger.ingest import ingest_folder, run_ingest, utcnow
from service.records import IngestReport, ParseResult
from service.sources import arxiv, hf_daily
from service.sources.arxiv_calendar import listing_day_at, quiet_reason
from service.sources.arxiv_feed import ArxivDocument, parse_arxiv_feed
from service.sources.hf_json import parse_hf_daily
from service.sources.http import Fetcher
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)

REMOTE_SOURCES = ("hf_daily", "arxiv")
Progress = Callable[[int, int | None], None]  # (steps done now, total steps if known)


def _embeds(settings: Any) -> bool:
    """Whether an ingest embeds its new papers (not when ranking is lexical only)."""
    return settings.semantic != "off"


def make_fetcher(settings: Any, **overrides: Any) -> Fetcher:
    return Fetcher.from_settings(settings, **overrides)


def _validators(factory: sessionmaker[Session]) -> Callable[[str], tuple[str | None, str | None]]:
    def lookup(url: str) -> tuple[str | None, str | None]:
        with session_scope(factory) as session:
            return store.http_validators(session, url=url)

    return lookup


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59), tzinfo=dt.UTC)


# --- Hugging Face Daily Papers -----------------------------------------------------------------


def ingest_hf_day(
    factory: sessionmaker[Session], *, settings: Any, fetcher: Fetcher, day: dt.date, now: dt.datetime | None = None,
    backfill: bool = False,
) -> IngestReport:  # fmt: skip
    """Fetch every page of one Daily Papers day and ingest it as one run; SourceError on failure."""
    now = now or utcnow()
    url = hf_daily.daily_papers_url(settings.hf_api_url)
    fetched: list[hf_daily.FetchedPage] = []

    def parse() -> ParseResult:
        fetched.extend(
            hf_daily.fetch_day(
                fetcher, base_url=settings.hf_api_url, day=day, sort=settings.hf_sort, limit=settings.hf_page_size,
                validators=_validators(factory),
            )
        )  # fmt: skip
        return hf_daily.combine_pages(fetched, limit=settings.hf_page_size)

    def on_success(session: Session, report: IngestReport) -> None:
        for page in fetched:
            if page.response.not_modified:
                continue
            response = page.response
            keep = not page.empty  # an empty page is always asked for in full (see hf_daily)
            store.save_http_validators(
                session, url=response.url, etag=response.etag if keep else None,
                last_modified=response.last_modified if keep else None, now=now,
            )  # fmt: skip
        if any(p.response.not_modified for p in fetched) and report.fetched == 0:
            report.status = "not_modified"

    return run_ingest(
        factory, source="hf_daily", input_name=f"{url}?date={day.isoformat()}", now=now, parse=parse,
        on_success=on_success, seen_at=_end_of(day) if backfill else None,
        embed=_embeds(settings) and not backfill,
    )  # fmt: skip


def backfill_hf(
    factory: sessionmaker[Session], *, settings: Any, fetcher: Fetcher, since: dt.date, until: dt.date,
    progress: Progress | None = None,
) -> list[IngestReport]:  # fmt: skip
    """Ingest every day from ``since`` to ``until``; a failed day is reported and the rest go on."""
    reports = []
    today = utcnow().date()
    day = since
    while day <= until:
        try:
            reports.append(
                ingest_hf_day(
                    factory, settings=settings, fetcher=fetcher, day=day, backfill=day < today
                )
            )
        except PaperboyError as exc:
            reports.append(IngestReport(source="hf_daily", errors=[str(exc)], status="failed"))
        if progress is not None:
            progress(1, (until - since).days + 1)
        day += dt.timedelta(days=1)
    if any(r.status != "failed" for r in reports):
        # Backfilled papers are first seen at the end of their own day, from `since` on.
        start = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)
        categories.fill_after_ingest(
            factory, settings=settings, fetcher=fetcher, since=start, limit=None
        )
    return reports


# --- arXiv -------------------------------------------------------------------------------------


def ingest_arxiv(
    factory: sessionmaker[Session],
    *,
    settings: Any,
    fetcher: Fetcher,
    now: dt.datetime | None = None,
) -> IngestReport:
    """Fetch the category feed and ingest it; an empty feed is recorded as no announcement."""
    now = now or utcnow()
    url = arxiv.feed_url(settings.arxiv_rss_url, settings.arxiv_category_list)
    result: dict[str, Any] = {}

    def parse() -> ParseResult:
        etag, last_modified = _validators(factory)(url)
        response, document = arxiv.fetch_feed(
            fetcher, url=url, etag=etag, last_modified=last_modified
        )
        result["response"] = response
        return document.parsed if document is not None else ParseResult()

    def on_success(session: Session, report: IngestReport) -> None:
        response = result["response"]
        if response.not_modified:
            report.status = "not_modified"
            return
        store.save_http_validators(
            session, url=url, etag=response.etag, last_modified=response.last_modified, now=now
        )
        if report.status == "no_announcement":
            day = listing_day_at(now)
            reason = quiet_reason(day, settings.arxiv_holiday_dates)
            if reason is None:
                log.warning("arxiv_no_announcement", day=day, expected="yes")
            else:
                log.info("arxiv_no_announcement", day=day, reason=reason)

    return run_ingest(
        factory,
        source="arxiv",
        input_name=url,
        now=now,
        parse=parse,
        on_success=on_success,
        embed=_embeds(settings),
    )


def lookup_arxiv(
    factory: sessionmaker[Session],
    *,
    settings: Any,
    fetcher: Fetcher,
    ids: list[str],
    now: dt.datetime | None = None,
) -> IngestReport:
    """Fetch these arXiv ids from the export API and ingest them as one run."""
    now = now or utcnow()
    url = arxiv.query_url(settings.arxiv_api_url)

    def parse() -> ParseResult:
        combined = ParseResult()
        for document in arxiv.lookup_ids(fetcher, api_base=settings.arxiv_api_url, ids=ids):
            combined.listings.extend(document.parsed.listings)
            combined.rejected.extend(document.parsed.rejected)
        return combined

    return run_ingest(
        factory,
        source="arxiv",
        input_name=f"{url}?id_list={','.join(ids)}",
        now=now,
        parse=parse,
        embed=_embeds(settings),
    )


def backfill_arxiv(
    factory: sessionmaker[Session], *, settings: Any, fetcher: Fetcher, since: dt.date, until: dt.date,
    progress: Progress | None = None,
) -> list[IngestReport]:  # fmt: skip
    """Ingest every paper of the followed categories submitted in [since, until], a run per page."""
    reports: list[IngestReport] = []
    pages = arxiv.backfill_pages(
        fetcher, api_base=settings.arxiv_api_url, categories=settings.arxiv_category_list, since=since,
        until=until, page_size=settings.arxiv_api_page_size,
    )  # fmt: skip
    url = arxiv.query_url(settings.arxiv_api_url)
    number = seen = 0
    while True:
        name = f"{url} backfill {since}..{until} page {number}"
        try:
            report, document = _backfill_page(factory, pages=pages, input_name=name)
        except PaperboyError as exc:
            reports.append(IngestReport(source="arxiv", errors=[str(exc)], status="failed"))
            break  # the paging cursor is lost with the failed page; rerun the backfill to resume
        if document is None:
            break
        reports.append(report)
        count = len(document.parsed.listings) + len(document.parsed.rejected)
        seen += count
        if progress is not None:
            progress(count, document.total_results)
        if count == 0 or document.total_results is None or seen >= document.total_results:
            break
        number += 1
    return reports


def _backfill_page(
    factory: sessionmaker[Session], *, pages: Iterator[ArxivDocument], input_name: str
) -> tuple[IngestReport, ArxivDocument | None]:
    """Fetch and ingest the next backfill page as one run, its papers seen on their own day."""
    holder: list[ArxivDocument | None] = []

    def parse() -> ParseResult:
        document = next(pages, None)
        holder.append(document)
        return document.parsed if document is not None else ParseResult()

    now = utcnow()
    report = run_ingest(
        factory,
        source="arxiv",
        input_name=input_name,
        now=now,
        parse=parse,
        seen_at=_submitted,
        embed=False,  # history: ranking embeds the few papers it needs, when it needs them
    )
    return report, holder[0] if holder else None


def _submitted(parsed: ParseResult) -> dt.datetime | None:
    """The end of the newest submission day of a backfill page: when those papers were news."""
    days = [listing.published for listing in parsed.listings if listing.published is not None]
    return min(_end_of(max(days)), utcnow()) if days else None


# --- replaying a saved response ------------------------------------------------------------------


def replay_parser(source: str) -> Callable[[bytes], ParseResult]:
    """The parser a live fetch of ``source`` uses, for `paperboy ingest --source S --file F`."""
    if source == "hf_daily":
        return lambda data: parse_hf_daily(data, source="hf_daily")
    if source == "arxiv":
        return lambda data: parse_arxiv_feed(data, source="arxiv")
    raise SourceError(
        f"no saved-response parser for source {source!r}; use one of {list(REMOTE_SOURCES)}"
    )


def replay_file(
    factory: sessionmaker[Session], *, source: str, path: Path, now: dt.datetime | None = None
) -> IngestReport:
    """Ingest a saved response of ``source`` exactly as a live fetch of it would be ingested."""
    parser = replay_parser(source)

    def parse() -> ParseResult:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SourceError(f"{path}: {exc.strerror or exc}") from exc
        try:
            return parser(data)
        except SourceError as exc:
            raise SourceError(f"{path}: {str(exc).removeprefix(f'{source}: ')}") from exc

    return run_ingest(
        factory, source=source, input_name=str(path), now=now or utcnow(), parse=parse
    )


# --- every enabled source ----------------------------------------------------------------------


def ingest_sources(
    factory: sessionmaker[Session], *, settings: Any, names: Iterable[str], fetcher: Fetcher | None = None,
    now: dt.datetime | None = None,
) -> list[IngestReport]:  # fmt: skip
    """Run each named source once; a failing one is reported failed and the others still run."""
    names = list(names)
    own = fetcher is None and any(n in REMOTE_SOURCES for n in names)
    if own:
        fetcher = make_fetcher(settings)
    reports: list[IngestReport] = []
    try:
        for name in names:
            try:
                if name == "files":
                    reports.extend(
                        ingest_folder(
                            factory, folder=settings.listing_dir, now=now, embed=_embeds(settings)
                        )
                    )
                elif name == "hf_daily":
                    assert fetcher is not None
                    day = (now or utcnow()).date()
                    reports.append(
                        ingest_hf_day(factory, settings=settings, fetcher=fetcher, day=day, now=now)
                    )
                    # Hugging Face papers come without arXiv categories: look them up.
                    categories.fill_after_ingest(
                        factory, settings=settings, fetcher=fetcher,
                        since=(now or utcnow()) - categories.RECENT,
                    )  # fmt: skip
                elif name == "arxiv":
                    assert fetcher is not None
                    reports.append(
                        ingest_arxiv(factory, settings=settings, fetcher=fetcher, now=now)
                    )
                else:
                    raise SourceError(f"unknown source {name!r}")
            except PaperboyError as exc:
                reports.append(IngestReport(source=name, errors=[str(exc)], status="failed"))
    finally:
        if own and fetcher is not None:
            fetcher.close()
    return reports
