"""Queries of the database's and the delivery queue's health: a cheap read of every main table,
SQLite's integrity check, PostgreSQL's activity counters, and procrastinate's jobs and workers.

Keyword-only arguments, a session first.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.storage.models import Delivery, IngestRun, Paper, Subscriber


def touch_database(session: Session) -> None:
    """A cheap read of every main table (the schema version, the newest row of each): raises
    when the database cannot answer or a page it reads is damaged. For ``/healthz``."""
    session.execute(text("SELECT version_num FROM alembic_version")).all()
    for table in (Subscriber, Delivery, Paper, IngestRun):
        session.execute(select(func.max(table.id))).scalar()


def integrity_problems(session: Session, *, limit: int = 5) -> list[str] | None:
    """SQLite's ``PRAGMA quick_check``: [] when the file is sound, else its first problems; None
    on other databases (PostgreSQL checks its own pages). Raises when the file cannot be read."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    rows = [str(row[0]) for row in session.execute(text(f"PRAGMA quick_check({int(limit)})"))]
    return [] if rows == ["ok"] else rows


def database_activity(session: Session) -> dict[str, int]:
    """PostgreSQL's cumulative counters for this database (pg_stat_database; benchmarks):
    commits; rows inserted, updated, deleted, returned and fetched; size on disk in bytes."""
    row = session.execute(
        text(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched,"
            " pg_database_size(current_database()) FROM pg_stat_database WHERE datname = current_database()"
        )
    ).one()
    names = ("commits", "inserted", "updated", "deleted", "returned", "fetched", "bytes")
    return dict(zip(names, map(int, row), strict=True))


def queue_jobs_waiting(session: Session) -> int:
    """Jobs waiting in procrastinate's queue (PostgreSQL with the delivery queue only)."""
    return int(
        session.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        ).scalar_one()
    )


def queue_status(session: Session, *, heartbeat_within_seconds: int = 60) -> dict[str, int] | None:
    """The delivery queue at a glance (procrastinate's tables), or None when it is not installed:
    jobs waiting, jobs running, and workers with a recent heartbeat."""
    if (
        session.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar_one()
        is not True
    ):
        return None
    jobs = dict(
        session.execute(
            text(
                "SELECT status::text, count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') GROUP BY status"
            )
        ).all()
    )
    workers = session.execute(
        text(
            "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => :s)"
        ),
        {"s": heartbeat_within_seconds},
    ).scalar_one()
    return {
        "waiting": int(jobs.get("todo", 0)),
        "running": int(jobs.get("doing", 0)),
        "workers": int(workers),
    }
