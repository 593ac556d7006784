"""Settings of the database: where it is."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DatabaseSettings(BaseModel):
    """The database URL (PostgreSQL is needed by the procrastinate queue: checked in ``core``)."""

    database_url: str = Field(
        "sqlite:///var/paperboy.db",
        description="SQLAlchemy URL of the database (SQLite file or `postgresql+psycopg://…`).",
    )
