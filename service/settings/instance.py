"""Settings of the deployment as a whole: its environment, the link-signing keys and logging."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

PLACEHOLDER_SECRET = "change-me"


class InstanceSettings(BaseModel):
    """Which environment this is, the keys that sign links, and how it logs.

    The check that refuses the placeholder key outside development is in ``core.Settings``,
    with the other checks across settings, so they run in their declared order.
    """

    env: Literal["development", "production"] = Field(
        "development",
        description="`development` allows the placeholder secret key; use `production` when deployed.",
    )
    secret_key: str = Field(
        PLACEHOLDER_SECRET,
        description="Signs the links in emails; refused at the placeholder unless `PAPERBOY_ENV=development`.",
    )
    secret_key_fallbacks: str = Field(
        "",
        description="Comma-separated former secret keys that still verify links signed before a key rotation.",
    )
    log_level: str = Field("INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR.")
    log_format: Literal["text", "json"] = Field(
        "text", description="`text` for people, `json` for log collectors."
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown log level {value!r}")
        return value.upper()

    @property
    def fallback_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.secret_key_fallbacks.split(",") if k.strip())
