"""Every Paperboy setting, declared once with its default and a one-line meaning.

Settings come from the environment (prefix ``PAPERBOY_``) or a ``.env`` file in the working
directory; the secrets can also be read from files (``PAPERBOY_SECRET_KEY_FILE`` and the like, as
Docker secrets are mounted). This module is the only place that reads the environment; the
README's settings table is checked against it by a test.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.errors import ConfigError, InputError

PLACEHOLDER_SECRET = "change-me"
KNOWN_SOURCES = ("files", "hf_daily", "arxiv")
# Settings that may hold a secret: each X is also read from the file named by X_FILE.
SECRET_SETTINGS = (
    "secret_key",
    "secret_key_fallbacks",
    "database_url",
    "smtp_url",
    "bounce_webhook_secret",
    "metrics_token",
)


class Settings(BaseSettings):
    """Validated settings; construct with ``load_settings()`` so errors read well."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERBOY_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    env: Literal["development", "production"] = Field(
        "development",
        description="`development` allows the placeholder secret key; use `production` when deployed.",
    )
    database_url: str = Field(
        "sqlite:///var/paperboy.db",
        description="SQLAlchemy URL of the database (SQLite file or `postgresql+psycopg://…`).",
    )
    smtp_url: str | None = Field(
        None,
        description="`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`; unset writes `.eml` files to the outbox directory.",
    )
    outbox_dir: Path = Field(
        Path("var/outbox"),
        description="Where messages are written as `.eml` files when no SMTP URL is set.",
    )
    from_address: str = Field(
        "Paperboy <paperboy@localhost>",
        validation_alias="PAPERBOY_FROM",
        description="The From: of every email.",
    )
    reply_to: str | None = Field(None, description="Optional Reply-To: of every email.")
    list_unsubscribe_mailto: str | None = Field(
        None,
        description="Optional address added to `List-Unsubscribe` as a `mailto:` beside the one-click URL, for mail clients that only offer mail; you handle what arrives there.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public URL of the web front, used in every link in an email; unset, `paperboy serve` uses the address it listens on (`--host`, `--port`).",
    )
    secret_key: str = Field(
        PLACEHOLDER_SECRET,
        description="Signs the links in emails; refused at the placeholder unless `PAPERBOY_ENV=development`.",
    )
    secret_key_fallbacks: str = Field(
        "",
        description="Comma-separated former secret keys that still verify links signed before a key rotation.",
    )
    default_timezone: str = Field(
        "UTC", description="Time zone of subscribers added without one (IANA name)."
    )
    default_hour: int = Field(
        8, ge=0, le=23, description="Local hour of delivery for subscribers added without one."
    )
    default_max_papers: int = Field(
        10, ge=1, le=100, description="Papers per digest for subscribers added without a maximum."
    )
    relevance_floor: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Minimum relevance (0–1; about 0.76 when a paper uses every word of the topic once) for a topic to count a paper as a match.",
    )
    trending_share: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Share (0–1) of a digest given to the day's trending papers and weight of community signal in the score, for subscribers who did not choose their own; 0 ranks on topics alone.",
    )
    semantic: Literal["on", "auto", "off"] = Field(
        "on",
        description="Embedding similarity for keyword topics with the bundled all-MiniLM-L6-v2 model (no extra install): `on` (`auto` means the same) blends it with the lexical match, `off` ranks lexically and ingest embeds nothing.",
    )
    candidate_days: int = Field(
        7, ge=1, le=60, description="How far back a first digest looks for papers."
    )
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
    delivery_interval_seconds: int = Field(
        300, ge=10, description="Seconds between delivery ticks of the scheduler."
    )
    delivery_deadline_hours: int = Field(
        6,
        ge=1,
        le=23,
        description="A digest not sent within this many hours after its delivery hour is recorded as missed, not sent late.",
    )
    lease_seconds: int = Field(
        900,
        ge=1,
        description="How long a claim on a delivery lasts; a claim older than this (its process died) is taken over.",
    )
    retry_base_seconds: int = Field(
        300,
        ge=1,
        description="First retry delay of a deferred delivery; doubles with every attempt.",
    )
    retry_max_attempts: int = Field(
        5, ge=1, description="Attempts before a deferred delivery is marked failed."
    )
    delivery_queue: Literal["inline", "procrastinate"] = Field(
        "inline",
        description="`inline` sends due digests in the scheduler's process; `procrastinate` (PostgreSQL only) fans them out as jobs to `paperboy worker` processes on any number of machines.",
    )
    delivery_batch_size: int = Field(
        200,
        ge=1,
        le=10000,
        description="Deliveries per job when the delivery queue is `procrastinate`.",
    )
    worker_concurrency: int = Field(
        4, ge=1, le=64, description="Jobs a `paperboy worker` process runs at once."
    )
    confirm_mail_interval_seconds: int = Field(
        3600,
        ge=0,
        description="At most one confirmation email per address within this many seconds (kept in the database, so a restart does not reset it).",
    )
    subscribe_limit_per_ip: int = Field(
        10,
        ge=1,
        description="Subscribe form posts allowed per client IP per hour; more get 429 Too Many Requests.",
    )
    smtp_connections: int = Field(
        16,
        ge=1,
        le=100,
        description="SMTP connections a send run uses in parallel (each reused, with RSET between messages).",
    )
    smtp_rate_limit: float = Field(
        0,
        ge=0,
        description="Most messages per second a send run hands to SMTP, across all connections; 0 = no limit.",
    )
    smtp_timeout_seconds: float = Field(
        30,
        gt=0,
        le=600,
        description="Seconds to wait for the SMTP server before the attempt counts as timed out (deferred and retried).",
    )
    smtp_data_timeout_seconds: float = Field(
        600,
        gt=0,
        le=3600,
        description="Seconds to wait for the reply to the end of a message (RFC 5321 §4.5.3.2 suggests 10 minutes); a timeout or drop after the message went out leaves the delivery `in_doubt`, never resent automatically.",
    )
    send_max_per_run: int = Field(
        0,
        ge=0,
        description="Most messages one send run attempts; the rest wait for the next run; 0 = no cap.",
    )
    breaker_threshold: int = Field(
        5,
        ge=1,
        description="Authentication or policy refusals (5.7.x), or SMTP timeouts, in a row that pause a send run; what is left stays pending.",
    )
    soft_bounce_limit: int = Field(
        3,
        ge=1,
        description="Soft bounces in a row (no successful send between) after which a subscriber is suppressed as bounced.",
    )
    bounce_webhook_secret: str | None = Field(
        None,
        description="Shared secret of `POST /webhooks/bounces` (`Authorization: Bearer …` or an `X-Paperboy-Signature: sha256=…` HMAC of the body); unset disables the endpoint.",
    )
    metrics_token: str | None = Field(
        None,
        description="Bearer token `/metrics` asks for (`Authorization: Bearer …`, as Prometheus' `authorization` setting sends it); unset, `/metrics` answers 404.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IP addresses or networks (e.g. `127.0.0.1,10.0.0.0/8`) of the reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` `paperboy serve` believes; unset, forwarding headers are ignored and the client is the connecting address.",
    )
    web_read_timeout_seconds: float = Field(
        20,
        gt=0,
        le=600,
        description="Seconds a client has to send a whole request (headers and body) to `paperboy serve` before the connection is closed; idle keep-alive connections close after 5 seconds.",
    )
    log_level: str = Field("INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR.")
    log_format: Literal["text", "json"] = Field(
        "text", description="`text` for people, `json` for log collectors."
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
    secret_key_file: Path | None = Field(
        None,
        description="File holding `PAPERBOY_SECRET_KEY` (e.g. a Docker secret, `/run/secrets/paperboy_secret_key`); wins over the variable.",
    )
    secret_key_fallbacks_file: Path | None = Field(
        None, description="File holding `PAPERBOY_SECRET_KEY_FALLBACKS`; wins over the variable."
    )
    database_url_file: Path | None = Field(
        None,
        description="File holding `PAPERBOY_DATABASE_URL` (it carries the database password); wins over the variable.",
    )
    smtp_url_file: Path | None = Field(
        None,
        description="File holding `PAPERBOY_SMTP_URL` (it carries the relay's password); wins over the variable.",
    )
    bounce_webhook_secret_file: Path | None = Field(
        None, description="File holding `PAPERBOY_BOUNCE_WEBHOOK_SECRET`; wins over the variable."
    )
    metrics_token_file: Path | None = Field(
        None, description="File holding `PAPERBOY_METRICS_TOKEN`; wins over the variable."
    )

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: object) -> object:
        """``PAPERBOY_X_FILE=path`` sets X to the file's content (its trailing newline dropped)."""
        if not isinstance(data, dict):
            return data
        for name in SECRET_SETTINGS:
            path = data.get(f"{name}_file")
            if not path:
                continue
            try:
                data[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(
                    f"PAPERBOY_{name.upper()}_FILE: cannot read {path}: {exc.strerror}"
                ) from None
        return data

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from service.subscribers.validation import check_timezone

        try:
            return check_timezone(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        entries = [e for e in value.replace(" ", "").split(",") if e]
        for entry in entries:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"expected IP addresses or networks (or *), got {entry!r}"
                ) from None
        return ",".join(entries)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [e for e in self.trusted_proxies.split(",") if e]

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("list_unsubscribe_mailto")
    @classmethod
    def _plain_address(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        address = value.strip().removeprefix("mailto:")
        # Goes into a header inside <mailto:…>: a plain ASCII address, nothing that could end it.
        if not re.fullmatch(
            r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", address
        ):
            raise ValueError(
                f"must be a plain email address such as unsubscribe@example.org, got {value!r}"
            )
        return address

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://user:pass@host:port or smtps://host:465")
        return value

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

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown log level {value!r}")
        return value.upper()

    @model_validator(mode="after")
    def _queue_needs_postgresql(self) -> Settings:
        if self.delivery_queue == "procrastinate" and not self.database_url.startswith(
            "postgresql"
        ):
            raise ValueError(
                "PAPERBOY_DELIVERY_QUEUE=procrastinate needs a PostgreSQL PAPERBOY_DATABASE_URL"
            )
        return self

    @model_validator(mode="after")
    def _secret_outside_development(self) -> Settings:
        if self.env != "development" and self.secret_key in ("", PLACEHOLDER_SECRET):
            raise ValueError(
                "PAPERBOY_SECRET_KEY is unset or the placeholder; set it to a long random value, e.g. "
                "the output of python3 -c 'import secrets; print(secrets.token_urlsafe(48))', in the "
                "environment or .env (docker compose reads .env), or put it in a file named by "
                "PAPERBOY_SECRET_KEY_FILE (PAPERBOY_ENV=development allows the placeholder, for local use only)"
            )
        return self

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
    def arxiv_category_list(self) -> list[str]:
        return [c for c in self.arxiv_categories.split(",") if c]

    @property
    def arxiv_holiday_dates(self) -> frozenset[dt.date]:
        return frozenset(
            dt.date.fromisoformat(d) for d in self.arxiv_holidays.replace(" ", "").split(",") if d
        )

    @property
    def user_agent(self) -> str:
        """'Paperboy/0.1.0 (self-hosted paper digest; +contact)': who to tell if we misbehave."""
        from email.utils import parseaddr

        from service import __version__

        contact = self.contact or parseaddr(self.from_address)[1] or self.from_address
        return f"Paperboy/{__version__} (self-hosted research paper digest; contact: {contact})"

    @property
    def base_url_given(self) -> bool:
        """Whether PAPERBOY_BASE_URL was set (environment or .env) rather than defaulted."""
        return "base_url" in self.model_fields_set

    def served_at(self, host: str, port: int) -> Settings:
        """These settings for ``paperboy serve --host HOST --port PORT``: without a
        PAPERBOY_BASE_URL, links in emails point at the address it listens on."""
        if self.base_url_given:
            return self
        return self.model_copy(update={"base_url": listen_url(host, port)})

    @property
    def enabled_sources(self) -> list[str]:
        return [s for s in self.sources.replace(" ", "").split(",") if s]

    @property
    def fallback_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.secret_key_fallbacks.split(",") if k.strip())

    @property
    def list_domain(self) -> str:
        """Host name of the public URL, used for List-Id and Message-ID."""
        return urlsplit(self.base_url).hostname or "localhost"

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Environment variable name → description, for the documentation test."""
        names = {}
        for name, info in cls.model_fields.items():
            env = info.validation_alias if isinstance(info.validation_alias, str) else None
            names[env or f"PAPERBOY_{name.upper()}"] = info.description or ""
        return names


_ANY_ADDRESS = ("", "0.0.0.0", "::")


def listen_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens to reach a server on ``host:port``."""
    host = "127.0.0.1" if host in _ANY_ADDRESS else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _loopback(name: str) -> bool:
    try:
        return name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def misses_listener(base_url: str, host: str, port: int) -> bool:
    """Whether ``base_url`` names this machine (a loopback name or ``host``) but not a server
    on ``host:port``. A base URL naming another host is a proxy in front: not judged here."""
    parts = urlsplit(base_url)
    name = parts.hostname or ""
    if not (_loopback(name) or name == host):
        return False
    try:
        their_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return True
    if their_port != port:
        return True
    # http://127.0.0.1:P does not reach a server bound to one LAN address only.
    return _loopback(name) and host not in _ANY_ADDRESS and not _loopback(host)


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; a ConfigError names every bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            if not error["loc"]:  # a check across settings names its variables itself
                problems.append(error["msg"].removeprefix("Value error, "))
                continue
            field = ".".join(str(p) for p in error["loc"])
            name = field if field.startswith("PAPERBOY_") else f"PAPERBOY_{field.upper()}"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
