"""Settings of the paper sources: which run, when, where they fetch from and how politely."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, Field, field_validator

KNOWN_SOURCES = ("files", "hf_daily", "arxiv")


class SourceSettings(BaseModel):
    """Enabled sources and the ingest schedule; Hugging Face and arXiv endpoints; HTTP limits."""

    sources: str = Field(
        "files",
        description="Comma-separated enabled sources for scheduled ingest (`files`, `hf_daily`, `arxiv`).",
    )
    listing_dir: Path = Field(
        Path("var/listings"),
        description="Folder the `files` source ingests listing files from on every ingest tick.",
    )
    ingest_cron: str = Field(
        "*/30 * * * *", description="Cron expression (UTC) of the scheduled ingest."
    )
    hf_api_url: str = Field(
        "https://huggingface.co/api",
        description="Base URL of the Hugging Face API; the `hf_daily` source reads `{URL}/daily_papers`.",
    )
    hf_sort: Literal["trending", "publishedAt"] = Field(
        "trending",
        description="Order of the Daily Papers pages the `hf_daily` source asks for (`trending` or `publishedAt`).",
    )
    hf_page_size: int = Field(
        50,
        ge=1,
        le=100,
        description="Papers per Daily Papers page (`limit`); pages are read until one comes back empty.",
    )
    arxiv_rss_url: str = Field(
        "https://rss.arxiv.org",
        description="Base URL of arXiv's feeds; the `arxiv` source reads `{URL}/rss/CAT1+CAT2`.",
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api",
        description="Base URL of arXiv's export API (`{URL}/query`), for id look-ups and backfills.",
    )
    arxiv_categories: str = Field(
        "cs.LG,cs.CL",
        description="Comma-separated arXiv categories the `arxiv` source follows, e.g. `cs.LG,cs.CL,stat.ML`.",
    )
    arxiv_holidays: str = Field(
        "",
        description="Comma-separated listing days (YYYY-MM-DD) on which arXiv announces nothing besides Saturdays and Sundays, copied from arXiv's published holiday schedule.",
    )
    arxiv_interval_seconds: float = Field(
        3.0,
        ge=3,
        description="Seconds between two requests to any arXiv endpoint (arXiv asks for at least 3, one connection at a time).",
    )
    arxiv_api_page_size: int = Field(
        100, ge=1, le=2000, description="Entries per export API request in an arXiv backfill."
    )
    contact: str | None = Field(
        None,
        description="Operator contact (email or URL) sent in the User-Agent of every request to Hugging Face and arXiv; unset uses the From: address.",
    )
    http_timeout_seconds: float = Field(
        30.0, gt=0, description="Connect and read timeout of every request to a source."
    )
    http_max_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description="Attempts per request on 5xx answers, 429s and network errors before the fetch fails (the next ingest tick tries again).",
    )
    http_backoff_seconds: float = Field(
        2.0,
        ge=0,
        description="First wait between attempts of a failed request; doubles with every attempt.",
    )
    http_max_wait_seconds: float = Field(
        300.0,
        ge=0,
        description="Longest `Retry-After` / `RateLimit` wait honoured within one fetch; a longer one fails the fetch until the next tick.",
    )

    @field_validator("ingest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"not a cron expression: {exc}") from exc
        return value

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: str) -> str:
        unknown = [s for s in value.replace(" ", "").split(",") if s and s not in KNOWN_SOURCES]
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; known: {list(KNOWN_SOURCES)}")
        return value

    @field_validator("hf_api_url", "arxiv_rss_url", "arxiv_api_url")
    @classmethod
    def _source_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("arxiv_categories")
    @classmethod
    def _categories(cls, value: str) -> str:
        names = [c for c in value.replace(" ", "").split(",") if c]
        bad = [c for c in names if not re.fullmatch(r"[a-z-]+(?:\.[A-Za-z-]+)?", c)]
        if bad or not names:
            raise ValueError(f"expected arXiv categories such as cs.LG,cs.CL, got {value!r}")
        return ",".join(names)

    @field_validator("arxiv_holidays")
    @classmethod
    def _holidays(cls, value: str) -> str:
        for text in (d for d in value.replace(" ", "").split(",") if d):
            try:
                dt.date.fromisoformat(text)
            except ValueError as exc:
                raise ValueError(f"not a date YYYY-MM-DD: {text!r}") from exc
        return value

    @property
    def enabled_sources(self) -> list[str]:
        return [s for s in self.sources.replace(" ", "").split(",") if s]

    @property
    def arxiv_category_list(self) -> list[str]:
        return [c for c in self.arxiv_categories.split(",") if c]

    @property
    def arxiv_holiday_dates(self) -> frozenset[dt.date]:
        return frozenset(
            dt.date.fromisoformat(d) for d in self.arxiv_holidays.replace(" ", "").split(",") if d
        )
