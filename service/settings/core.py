"""The ``Settings`` class, composed of one section per concern, and the functions that read it."""

from __future__ import annotations

from email.utils import parseaddr
from functools import lru_cache

from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service import __version__
from service.errors import ConfigError
from service.settings.database import DatabaseSettings
from service.settings.delivery import DeliverySettings
from service.settings.instance import PLACEHOLDER_SECRET, InstanceSettings
from service.settings.mail import MailSettings
from service.settings.ranking import RankingSettings
from service.settings.secret_files import SecretFileSettings
from service.settings.sources import SourceSettings
from service.settings.web import WebSettings


# Pydantic lists the fields of the last base first, so the sections are named here in the
# reverse of the order in which the README table and .env.example show them.
class Settings(
    SecretFileSettings,
    SourceSettings,
    RankingSettings,
    DeliverySettings,
    WebSettings,
    MailSettings,
    DatabaseSettings,
    InstanceSettings,
    BaseSettings,
):
    """Validated settings; construct with ``load_settings()`` so errors read well.

    Each section holds its own fields and the checks of one field; the checks across
    sections are here, and run in the order they are declared.
    """

    model_config = SettingsConfigDict(
        env_prefix="PAPERBOY_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

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

    @property
    def user_agent(self) -> str:
        """'Paperboy/0.1.0 (self-hosted paper digest; +contact)': who to tell if we misbehave."""
        contact = self.contact or parseaddr(self.from_address)[1] or self.from_address
        return f"Paperboy/{__version__} (self-hosted research paper digest; contact: {contact})"

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Environment variable name → description, for the documentation test."""
        names = {}
        for name, info in cls.model_fields.items():
            env = info.validation_alias if isinstance(info.validation_alias, str) else None
            names[env or f"PAPERBOY_{name.upper()}"] = info.description or ""
        return names


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
