"""The arXiv source: the category feed for the daily announcement, the export API for the rest.

Every request goes through the fetcher's "arxiv" gate: one at a time, 3 seconds apart, whether
it is the RSS feed or the export API (arXiv's terms treat them as one service).

- Daily: `GET {PAPERBOY_ARXIV_RSS_URL}/rss/cs.LG+cs.CL` (the categories joined by `+`), sent
  conditionally with the validators of the last ingested answer.
- Look-up: `GET {PAPERBOY_ARXIV_API_URL}/query?id_list=ID,ID` for papers known by id only.
- Backfill: `search_query=(cat:A OR cat:B) AND submittedDate:[FROM TO]`, oldest first, paged
  with `start` / `max_results` until `opensearch:totalResults` is reached.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from service.errors import SourceError
from service.sources.arxiv_feed import ArxivDocument, parse_arxiv
from service.sources.http import Fetcher, Response

GATE = "arxiv"
MAX_ID_LIST = 100  # ids per export API look-up; longer URLs start failing


def feed_url(rss_base: str, categories: Iterable[str]) -> str:
    return f"{rss_base.rstrip('/')}/rss/{'+'.join(categories)}"


def query_url(api_base: str) -> str:
    return f"{api_base.rstrip('/')}/query"


def fetch_feed(
    fetcher: Fetcher,
    *,
    url: str,
    etag: str | None,
    last_modified: str | None,
    source: str = "arxiv",
) -> tuple[Response, ArxivDocument | None]:
    """The feed's response and its parse (None on 304); a broken feed raises SourceError."""
    response = fetcher.get(url, etag=etag, last_modified=last_modified, gate=GATE)
    if response.not_modified:
        return response, None
    return response, _parse(response, source=source)


def lookup_ids(
    fetcher: Fetcher, *, api_base: str, ids: list[str], source: str = "arxiv"
) -> list[ArxivDocument]:
    """Export API answers for these ids, at most MAX_ID_LIST per request."""
    documents = []
    for start in range(0, len(ids), MAX_ID_LIST):
        chunk = ids[start : start + MAX_ID_LIST]
        params = {"id_list": ",".join(chunk), "max_results": len(chunk)}
        documents.append(
            _parse(fetcher.get(query_url(api_base), params=params, gate=GATE), source=source)
        )
    return documents


def backfill_query(categories: Iterable[str], since: dt.date, until: dt.date) -> str:
    """`(cat:cs.LG OR cat:cs.CL) AND submittedDate:[202501010000 TO 202501312359]`."""
    cats = " OR ".join(f"cat:{c}" for c in categories)
    return f"({cats}) AND submittedDate:[{since:%Y%m%d}0000 TO {until:%Y%m%d}2359]"


def backfill_pages(
    fetcher: Fetcher,
    *,
    api_base: str,
    categories: list[str],
    since: dt.date,
    until: dt.date,
    page_size: int,
    source: str = "arxiv",
) -> Iterator[ArxivDocument]:
    """Yield export API pages of every paper submitted in [since, until], oldest first."""
    query = backfill_query(categories, since, until)
    start = 0
    while True:
        params = {
            "search_query": query, "start": start, "max_results": page_size,
            "sortBy": "submittedDate", "sortOrder": "ascending",
        }  # fmt: skip
        document = _parse(fetcher.get(query_url(api_base), params=params, gate=GATE), source=source)
        yield document
        count = len(document.parsed.listings) + len(document.parsed.rejected)
        start += count
        if count == 0 or document.total_results is None or start >= document.total_results:
            return


def _parse(response: Response, *, source: str) -> ArxivDocument:
    try:
        return parse_arxiv(response.body, source=source)
    except SourceError as exc:
        detail = str(exc).removeprefix(f"{source}: ")
        raise SourceError(f"{source}: {response.url}: {detail}") from exc
