"""Queries of source runs: one ``ingest_runs`` row per run (started, finished, listed, latest per
source, quiet days) and the HTTP validators (ETag, Last-Modified) for conditional requests.

Keyword-only arguments, a session first; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.storage.models import HttpValidator, IngestRun
from service.storage.rows import IngestRunRow


def start_ingest_run(
    session: Session, *, source: str, input_name: str | None, now: dt.datetime
) -> IngestRun:
    run = IngestRun(source=source, input_name=input_name, started_at=now)
    session.add(run)
    session.flush()
    return run


def finish_ingest_run(
    session: Session,
    *,
    run_id: int,
    counts: dict[str, Any],
    error: str | None,
    now: dt.datetime,
    status: str | None = None,
) -> None:
    """Close a run: status is ok / failed (from ``error``) unless given (no_announcement, not_modified)."""
    values = {k: counts[k] for k in ("fetched", "new", "updated", "unchanged", "rejected")}
    values["status"] = status or ("failed" if error else "ok")
    session.execute(
        update(IngestRun)
        .where(IngestRun.id == run_id)
        .values(finished_at=now, error=error, **values)
    )


def last_clean_ingest(session: Session, *, input_name: str) -> dt.datetime | None:
    """Start time of the latest ingest of this input that finished without error."""
    return session.scalar(
        select(func.max(IngestRun.started_at)).where(
            IngestRun.input_name == input_name,
            IngestRun.finished_at.is_not(None),
            IngestRun.error.is_(None),
        )
    )


def ingest_runs(
    session: Session, *, source: str | None = None, limit: int = 50
) -> list[IngestRunRow]:
    """The latest ingest runs, newest first, of one source or all."""
    query = (
        select(IngestRun).order_by(IngestRun.started_at.desc(), IngestRun.id.desc()).limit(limit)
    )
    if source is not None:
        query = query.where(IngestRun.source == source)
    return [IngestRunRow.of(run) for run in session.scalars(query)]


def last_ingest_per_source(
    session: Session,
) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]]:
    """Per source: (start of the latest finished run, start of the latest run without error)."""
    finished = dict(
        session.execute(
            select(IngestRun.source, func.max(IngestRun.started_at))
            .where(IngestRun.finished_at.is_not(None))
            .group_by(IngestRun.source)
        ).all()
    )
    clean = dict(
        session.execute(
            select(IngestRun.source, func.max(IngestRun.started_at))
            .where(IngestRun.finished_at.is_not(None), IngestRun.error.is_(None))
            .group_by(IngestRun.source)
        ).all()
    )
    return {
        source: (finished.get(source), clean.get(source))
        for source in sorted(set(finished) | set(clean))
    }


def quiet_source_runs(session: Session, *, since: dt.datetime, until: dt.datetime) -> list[str]:
    """Sources whose runs between ``since`` and ``until`` all said "no announcement" (a quiet day)."""
    rows = session.execute(
        select(IngestRun.source, IngestRun.status).where(
            IngestRun.started_at >= since,
            IngestRun.started_at < until,
            IngestRun.finished_at.is_not(None),
        )
    ).all()
    statuses: dict[str, set[str | None]] = {}
    for source, status in rows:
        statuses.setdefault(source, set()).add(status)
    return sorted(src for src, seen in statuses.items() if seen == {"no_announcement"})


def http_validators(session: Session, *, url: str) -> tuple[str | None, str | None]:
    """The (ETag, Last-Modified) ``url`` last answered with, or (None, None)."""
    row = session.execute(
        select(HttpValidator.etag, HttpValidator.last_modified).where(HttpValidator.url == url)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


def save_http_validators(
    session: Session, *, url: str, etag: str | None, last_modified: str | None, now: dt.datetime
) -> None:
    """Remember the validators of ``url``; a response without any forgets the old ones."""
    existing = session.scalar(select(HttpValidator).where(HttpValidator.url == url))
    if etag is None and last_modified is None:
        if existing is not None:
            session.delete(existing)
        return
    if existing is None:
        session.add(HttpValidator(url=url, etag=etag, last_modified=last_modified, updated_at=now))
    else:
        existing.etag, existing.last_modified, existing.updated_at = etag, last_modified, now
