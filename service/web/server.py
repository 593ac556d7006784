"""How ``paperboy serve`` runs uvicorn: which proxies it believes and how long a client may take.

- Forwarding headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) count only from the addresses in
  ``PAPERBOY_TRUSTED_PROXIES`` (uvicorn's ``forwarded_allow_ips``); unset, they are ignored (not
  even uvicorn's default of trusting 127.0.0.1), so a client cannot choose the IP the per-IP
  limit counts or the consent IP records.
- A client has ``PAPERBOY_WEB_READ_TIMEOUT_SECONDS`` to send a whole request, headers and body,
  from the moment it connects (or its previous answer went out); then the connection is closed.
  uvicorn itself only times out idle keep-alive connections (``timeout_keep_alive``, 5 s here),
  so a client trickling a byte at a time would hold a connection for ever.
- Request headers are limited to h11's 16 KB (``h11_max_incomplete_event_size``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.settings import Settings

KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024


class ReadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for reading each request (``read_timeout``)."""

    read_timeout: float = 20.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_deadline()
        super().connection_lost(exc)

    def _arm_read_deadline(self) -> None:
        self._disarm_read_deadline()
        if not self.transport.is_closing():
            self._read_deadline = self.loop.call_later(
                self.read_timeout, self._read_deadline_passed
            )

    def _disarm_read_deadline(self) -> None:
        deadline = getattr(self, "_read_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._read_deadline = None

    def _read_deadline_passed(self) -> None:
        self._read_deadline = None
        # Still waiting for the request (or the rest of its body): a slow or idle client.
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.logger.info("Closing a connection that did not send its request in time.")
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` besides the app, host and port."""
    proxies = settings.trusted_proxy_list
    protocol = type(
        "PaperboyH11Protocol",
        (ReadTimeoutH11Protocol,),
        {"read_timeout": settings.web_read_timeout_seconds},
    )
    return {
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(proxies) if proxies else "",
        "http": protocol,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }
