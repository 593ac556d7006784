"""Secrets read from files: ``PAPERBOY_X_FILE`` names a file (a Docker secret) holding X."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

# Settings that may hold a secret: each X is also read from the file named by X_FILE.
SECRET_SETTINGS = (
    "secret_key",
    "secret_key_fallbacks",
    "database_url",
    "smtp_url",
    "bounce_webhook_secret",
    "metrics_token",
)


class SecretFileSettings(BaseModel):
    """One ``*_file`` setting per secret, and the check that reads them before validation."""

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
