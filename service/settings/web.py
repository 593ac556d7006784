"""Settings of the web front (public URL, proxies, endpoint secrets) and where it listens."""

from __future__ import annotations

import ipaddress
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

_ANY_ADDRESS = ("", "0.0.0.0", "::")


class WebSettings(BaseModel):
    """The public URL every link in an email uses, and what the web front trusts and allows."""

    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public URL of the web front, used in every link in an email; unset, `paperboy serve` uses the address it listens on (`--host`, `--port`).",
    )
    subscribe_limit_per_ip: int = Field(
        10,
        ge=1,
        description="Subscribe form posts allowed per client IP per hour; more get 429 Too Many Requests.",
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

    @property
    def base_url_given(self) -> bool:
        """Whether PAPERBOY_BASE_URL was set (environment or .env) rather than defaulted."""
        return "base_url" in self.model_fields_set

    def served_at(self, host: str, port: int) -> Self:
        """These settings for ``paperboy serve --host HOST --port PORT``: without a
        PAPERBOY_BASE_URL, links in emails point at the address it listens on."""
        if self.base_url_given:
            return self
        return self.model_copy(update={"base_url": listen_url(host, port)})

    @property
    def list_domain(self) -> str:
        """Host name of the public URL, used for List-Id and Message-ID."""
        return urlsplit(self.base_url).hostname or "localhost"


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
