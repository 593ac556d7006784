"""Engine, session factory and ``session_scope()``; no queries live here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, create the file's folder and turn on WAL and FKs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The web server, the scheduler and the CLI share one file: wait for locks instead of
        # failing at once, and let readers work while a writer writes.
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def database_failure(exc: BaseException, url: str | None) -> str | None:
    """One line naming the database and what is wrong with it, when ``exc`` is (or was caused by)
    a failure of the database itself; None for any other exception."""
    from sqlalchemy.exc import DBAPIError

    found: BaseException | None = exc
    while found is not None and not isinstance(found, DBAPIError):
        found = found.__cause__
    if found is None:
        return None
    orig = getattr(found, "orig", None)
    said = str(orig if orig is not None else found).strip()
    problem = said.splitlines()[0] if said else type(found).__name__
    name = "the database"
    if url:
        parsed = make_url(url)
        name = (
            parsed.database
            if parsed.get_backend_name() == "sqlite" and parsed.database
            else parsed.render_as_string(hide_password=True)
        )
    damaged = any(
        words in problem.lower() for words in ("malformed", "not a database", "disk i/o error")
    )
    hint = (
        " (the file is damaged: `paperboy doctor` checks it; restore it from a backup)"
        if damaged
        else ""
    )
    return f"database {name}: {problem}{hint}"
