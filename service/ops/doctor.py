"""`paperboy doctor`: check what a run needs — settings, database, schema, mail, sources — and say
what is wrong in words an operator can act on. Each check is independent: one failure does not
hide the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.delivery.runtime import Runtime
from service.delivery.smtp_mailer import SmtpMailer
from service.errors import PaperboyError
from service.settings import PLACEHOLDER_SECRET, Settings
from service.storage import migrations, store
from service.storage.engine import session_scope
from service.words import counted


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str) -> Check:
    return Check(name, "warn", detail)


def fail(name: str, detail: str) -> Check:
    return Check(name, "fail", detail)


def check_settings(settings: Settings) -> Iterator[Check]:
    yield ok("settings", f"loaded ({settings.env})")
    production = settings.env == "production"
    if settings.secret_key == PLACEHOLDER_SECRET:
        yield warn(
            "secret key",
            "PAPERBOY_SECRET_KEY is the placeholder: links in emails can be forged; set a long random value",
        )
    base = urlsplit(settings.base_url)
    if production and base.scheme != "https":
        yield warn(
            "base url",
            f"PAPERBOY_BASE_URL={settings.base_url} is not https: links in emails are sent in clear",
        )
    if base.hostname in ("127.0.0.1", "localhost") and production:
        yield fail(
            "base url",
            f"PAPERBOY_BASE_URL={settings.base_url} points at this machine: subscribers cannot open the links",
        )
    sender_domain = settings.from_address.rsplit("@", 1)[-1].rstrip(">").strip().lower()
    if production and sender_domain in ("localhost", "example.org", "example.com"):
        yield fail(
            "from address",
            f"PAPERBOY_FROM={settings.from_address!r} uses {sender_domain}: receivers will reject it",
        )


def check_database(runtime: Runtime) -> Iterator[Check]:
    url = runtime.engine.url.render_as_string(hide_password=True)
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        yield fail("database", f"cannot connect to {url}: {exc.__cause__ or exc}".splitlines()[0])
        return
    yield ok("database", f"connected to {url}")
    integrity = check_integrity(runtime)
    if integrity is not None:
        yield integrity
        if integrity.status == "fail":
            return
    current = migrations.current_revision(runtime.engine)
    head = migrations.head_revision(runtime.settings.database_url)
    if current == head:
        yield ok("schema", f"at {head}")
    else:
        yield fail(
            "schema",
            f"database at {current or '(empty)'}, code at {head}: run `paperboy db upgrade`",
        )


def check_integrity(runtime: Runtime) -> Check | None:
    """SQLite's quick_check over the whole file (a damaged page fails here even when the pages a
    probe reads are sound); None on PostgreSQL."""
    try:
        with session_scope(runtime.factory) as session:
            problems = store.integrity_problems(session)
    except SQLAlchemyError as exc:
        problems = [str(getattr(exc, "orig", None) or exc)]
    if problems is None:
        return None
    path = runtime.engine.url.database
    if problems:
        return fail(
            "database integrity",
            f"{path} is damaged: {'; '.join(' '.join(p.split()) for p in problems)}: "
            "stop the services and restore it from a backup",
        )
    return ok("database integrity", f"{path}: quick_check ok")


def check_mail(settings: Settings) -> Iterator[Check]:
    if not (settings.smtp_url and settings.smtp_url.strip()):
        outbox = Path(settings.outbox_dir)
        problem = _unwritable(outbox)
        if problem:
            yield fail(
                "mail", f"no PAPERBOY_SMTP_URL and the outbox {outbox} is not writable: {problem}"
            )
        else:
            yield warn("mail", f"no PAPERBOY_SMTP_URL: messages are written to {outbox}, not sent")
        return
    try:
        mailer = SmtpMailer(settings.smtp_url.strip(), timeout=10)
    except PaperboyError as exc:
        yield fail("mail", f"PAPERBOY_SMTP_URL: {exc}")
        return
    try:
        greeting = mailer.probe()
    except PaperboyError as exc:
        yield fail("mail", str(exc))
        return
    yield ok(
        "mail",
        f"{mailer.server} accepts connections{' as ' + mailer.username if mailer.username else ''} ({greeting or 'no EHLO name'})",
    )


def check_sources(settings: Settings) -> Iterator[Check]:
    sources = settings.enabled_sources
    if not sources:
        yield warn("sources", "PAPERBOY_SOURCES is empty: no paper will be ingested on schedule")
        return
    yield ok("sources", ", ".join(sources))
    if "files" in sources:
        folder = Path(settings.listing_dir)
        if not folder.is_dir():
            yield warn(
                "listing folder", f"{folder} does not exist: the files source has nothing to read"
            )


def _unwritable(folder: Path) -> str | None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK):
        return f"no write permission on {existing}"
    return None


def check_queue(runtime: Runtime) -> Iterator[Check]:
    if runtime.settings.delivery_queue != "procrastinate":
        yield ok("delivery queue", "inline: the scheduler sends the digests itself")
        return
    try:
        with session_scope(runtime.factory) as session:
            status = store.queue_status(session)
    except SQLAlchemyError as exc:
        yield fail(
            "delivery queue",
            f"cannot read procrastinate's tables: {exc.__cause__ or exc}".splitlines()[0],
        )
        return
    if status is None:
        yield fail(
            "delivery queue", "procrastinate's tables are missing: run `paperboy db upgrade`"
        )
        return
    detail = f"{counted(status['waiting'], 'job')} waiting, {status['running']} running, {counted(status['workers'], 'live worker')}"
    if status["workers"] == 0:
        yield warn(
            "delivery queue",
            f"{detail}: no `paperboy worker` has sent a heartbeat in the last minute; queued digests wait",
        )
    else:
        yield ok("delivery queue", detail)


CHECKS: tuple[Callable[[Runtime], Iterator[Check]], ...] = (
    lambda runtime: check_settings(runtime.settings),
    check_database,
    check_queue,
    lambda runtime: check_mail(runtime.settings),
    lambda runtime: check_sources(runtime.settings),
)


def run_checks(runtime: Runtime) -> list[Check]:
    """Every check, in order; an unexpected exception in one becomes that check's failure."""
    results: list[Check] = []
    for check in CHECKS:
        try:
            results.extend(check(runtime))
        except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
            results.append(
                fail(getattr(check, "__name__", "check"), f"{type(exc).__name__}: {exc}")
            )
    return results
