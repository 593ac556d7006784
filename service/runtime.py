"""The objects a process builds once from its settings: engine, sessions, pipeline, mailer."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service import schema
from service.db import make_engine, make_session_factory
from service.delivery import Pipeline
from service.mailer import Mailer, mailer_from_settings
from service.render import Renderer
from service.resources import templates_dir
from service.settings import Settings
from service.tokens import Signer


@dataclass
class Runtime:
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

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

    def mailer(self) -> Mailer:
        """A new mailer (SMTP connection or outbox folder) for one run."""
        return mailer_from_settings(self.settings.smtp_url, self.settings.outbox_dir)

    def require_current_schema(self) -> None:
        schema.require_current(self.engine, self.settings.database_url)

    def migrate(self) -> None:
        schema.upgrade(self.settings.database_url)
