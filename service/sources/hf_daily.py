"""The Hugging Face Daily Papers source: fetch every page of one day, parse with `hf_json`.

`GET {PAPERBOY_HF_API_URL}/daily_papers?date=YYYY-MM-DD&p=N&limit=L&sort=S`, pages from 0 until
one comes back empty. Each page is parsed as it arrives, so a truncated or invalid page fails
the whole day before anything is written. Positions run across pages (page 2's first paper of
50 per page is position 51), and a rejected item is named by page and item.

An empty page is never sent conditionally (its validators are not kept): a 304 therefore always
means "this page still holds the papers it held", and the loop still ends on a real empty page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from service.errors import FetchError, SourceError
from service.records import ParseResult, Rejected
from service.sources.hf_json import parse_hf_daily
from service.sources.http import Fetcher, Response

MAX_PAGES = 200  # 10,000 papers at 50 a page: far beyond any real day; stops a looping server

Validators = Callable[[str], tuple[str | None, str | None]]


@dataclass(slots=True)
class FetchedPage:
    """One fetched page and what it parsed to (None when the server said 304)."""

    response: Response
    parsed: ParseResult | None

    @property
    def empty(self) -> bool:
        return self.parsed is not None and not self.parsed.listings and not self.parsed.rejected


def daily_papers_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/daily_papers"


def fetch_day(
    fetcher: Fetcher,
    *,
    base_url: str,
    day: dt.date,
    sort: str,
    limit: int,
    validators: Validators,
    source: str = "hf_daily",
) -> list[FetchedPage]:
    """Fetch and parse every page of ``day``; the last one is the empty page that ended it."""
    url = daily_papers_url(base_url)
    pages: list[FetchedPage] = []
    for number in range(MAX_PAGES):
        params = {"date": day.isoformat(), "p": number, "limit": limit, "sort": sort}
        full_url = str(httpx.URL(url, params=params))  # the key its validators are stored under
        etag, last_modified = validators(full_url)
        response = fetcher.get(url, params=params, etag=etag, last_modified=last_modified)
        parsed = None
        if not response.not_modified:
            try:
                parsed = parse_hf_daily(response.body, source=source)
            except SourceError as exc:
                detail = str(exc).removeprefix(f"{source}: ")
                raise SourceError(f"{source}: {response.url}: {detail}") from exc
        page = FetchedPage(response, parsed)
        pages.append(page)
        if page.empty:
            return pages
    raise FetchError(f"{url}: more than {MAX_PAGES} pages for {day}; stopping")


def combine_pages(pages: list[FetchedPage], *, limit: int) -> ParseResult:
    """One ParseResult for the day: positions continue across pages, rejections name their page."""
    combined = ParseResult()
    days = set()
    for number, page in enumerate(pages):
        if page.parsed is None:
            continue
        offset = number * limit
        for listing in page.parsed.listings:
            position = listing.position + offset if listing.position is not None else None
            combined.listings.append(dataclasses.replace(listing, position=position))
        combined.rejected.extend(
            Rejected(f"page {number} {r.where}", r.reason) for r in page.parsed.rejected
        )
        if page.parsed.listed_on is not None:
            days.add(page.parsed.listed_on)
    combined.listed_on = days.pop() if len(days) == 1 else None
    return combined
