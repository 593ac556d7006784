"""The objects a process builds once from its settings: engine, sessions, pipeline, mailer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.delivery.mailer import Mailer
from service.delivery.outbox_mailer import OutboxMailer
from service.delivery.run import Pipeline
from service.delivery.smtp_mailer import DEFAULT_DATA_TIMEOUT, DEFAULT_TIMEOUT, SmtpMailer
from service.delivery.smtp_pool import SmtpPool
from service.digest.render import Renderer
from service.resources import templates_dir
from service.settings import Settings
from service.storage import migrations
from service.storage.engine import make_engine, make_session_factory
from service.subscribers.tokens import Signer

log = logs.get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)
    # Set on SIGTERM: a send run finishes the messages in flight and leaves the rest open.
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    @cached_property
    def engine(self) -> Engine:
        return self._engine or make_engine(self.settings.database_url)

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def signer(self) -> Signer:
        return Signer(self.settings.secret_key, self.settings.fallback_keys)

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(
            settings=self.settings,
            factory=self.factory,
            renderer=Renderer(templates_dir()),
            signer=self.signer,
        )

    def mailer(self, connections: int | None = None) -> Mailer:
        """A new mailer for one run: an SMTP pool of ``connections`` (default
        ``PAPERBOY_SMTP_CONNECTIONS``) reused connections, or (no SMTP URL) the outbox folder
        behind a pool of one."""
        settings = self.settings
        if not settings.smtp_url:
            return SmtpPool.around(
                mailer_from_settings(None, settings.outbox_dir),
                breaker_threshold=settings.breaker_threshold,
            )
        url = settings.smtp_url
        timeout, data_timeout = settings.smtp_timeout_seconds, settings.smtp_data_timeout_seconds
        pool = SmtpPool(
            lambda: SmtpMailer(url, timeout=timeout, data_timeout=data_timeout),
            size=connections or settings.smtp_connections,
            rate=settings.smtp_rate_limit,
            breaker_threshold=settings.breaker_threshold,
            name=SmtpMailer(url).server,
        )
        log.info(
            "mailer.selected",
            kind="smtp_pool",
            server=pool.name,
            connections=pool.size,
            rate=pool.rate,
        )
        return pool

    def require_current_schema(self) -> None:
        migrations.require_current(self.engine, self.settings.database_url)

    def migrate(self) -> None:
        migrations.upgrade(self.settings.database_url)


def mailer_from_settings(
    smtp_url: str | None,
    outbox_dir: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    data_timeout: float = DEFAULT_DATA_TIMEOUT,
) -> Mailer:
    """An SmtpMailer when an SMTP URL is configured, else an OutboxMailer writing to outbox_dir."""
    if smtp_url and smtp_url.strip():
        mailer = SmtpMailer(smtp_url.strip(), timeout=timeout, data_timeout=data_timeout)
        log.info("mailer.selected", kind="smtp", server=mailer.server)
        return mailer
    log.info("mailer.selected", kind="outbox", dir=outbox_dir)
    return OutboxMailer(outbox_dir)
