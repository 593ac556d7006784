"""The ``paperboy`` command: serve, ingest, send, preview, subscribers, db.

Commands print a short human summary, or with ``--json`` one JSON document on stdout. Exit codes:
0 success, 1 a failure while running, 2 bad input (an address, a time zone, a file, a setting).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.exc import IntegrityError

from service import logs, schema, store
from service.db import session_scope
from service.errors import ConfigError, InputError, PaperboyError, SchemaError, SourceError
from service.ingest import ingest_file, ingest_folder, utcnow
from service.resources import sample_listings_path
from service.runtime import Runtime
from service.settings import load_settings
from service.subscribers import (
    check_cadence,
    check_hour,
    check_timezone,
    normalise_email,
    parse_topic,
)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"paperboy: {message}", err=True)
    sys.exit(code)


def emit(data: Any, as_json: bool, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human)


def runtime_from(ctx: click.Context, *, check_schema: bool = True) -> Runtime:
    runtime: Runtime = ctx.obj
    if check_schema:
        try:
            runtime.require_current_schema()
        except SchemaError as exc:
            fail(str(exc))
    return runtime


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Paperboy: a daily digest of trending research papers, by email."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc), 2)
    logs.configure(settings.log_level, settings.log_format)
    ctx.obj = Runtime(settings)


# --- db -----------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply migrations up to the latest revision."""
    runtime = runtime_from(ctx, check_schema=False)
    schema.upgrade(runtime.settings.database_url, revision)
    click.echo(f"database at {schema.current_revision(runtime.engine)}")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Show the database's revision and the code's."""
    runtime = runtime_from(ctx, check_schema=False)
    current = schema.current_revision(runtime.engine)
    head = schema.head_revision(runtime.settings.database_url)
    click.echo(f"database {current or '(empty)'}, code {head}: {'up to date' if current == head else 'upgrade needed'}")
    if current != head:
        sys.exit(1)


# --- ingest -------------------------------------------------------------------------------------


@cli.command()
@click.option("--file", "files", multiple=True, type=click.Path(path_type=Path), help="Listing file(s) to ingest.")
@click.option("--sample", is_flag=True, help="Ingest the bundled sample listings.")
@click.option("--if-empty", is_flag=True, help="Only when the database holds no paper yet.")
@click.option("--source", "source_name", default=None, help="Ingest the enabled source NAME (default: all enabled).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_context
def ingest(ctx: click.Context, files: tuple[Path, ...], sample: bool, if_empty: bool, source_name: str | None, as_json: bool) -> None:
    """Fetch or read listings and merge them into the paper ledger."""
    runtime = runtime_from(ctx)
    if if_empty:
        with session_scope(runtime.factory) as session:
            if store.count_papers(session):
                emit({"skipped": "database not empty"}, as_json, "database already has papers; nothing ingested")
                return
    reports = []
    try:
        if sample:
            reports.append(ingest_file(runtime.factory, path=sample_listings_path(), source="sample"))
        for path in files:
            reports.append(ingest_file(runtime.factory, path=path, source="file"))
    except SourceError as exc:
        fail(str(exc), 2)
    if not sample and not files:
        enabled = runtime.settings.enabled_sources
        if source_name is not None and source_name not in enabled:
            fail(f"source {source_name!r} is not enabled (PAPERBOY_SOURCES={runtime.settings.sources})", 2)
        for name in [source_name] if source_name else enabled:
            if name == "files":
                reports.extend(ingest_folder(runtime.factory, folder=runtime.settings.listing_dir))
    summaries = [r.as_dict() | ({"errors": r.errors} if r.errors else {}) for r in reports]
    human = "\n".join(
        f"{r.source}: fetched {r.fetched}, new {r.new}, updated {r.updated}, unchanged {r.unchanged}, rejected {r.rejected}"
        + (f" — {'; '.join(r.errors)}" if r.errors else "")
        for r in reports
    ) or "nothing to ingest"
    emit(summaries[0] if len(summaries) == 1 else summaries, as_json, human)
    if any(r.errors for r in reports):
        sys.exit(1)


# --- send and preview ---------------------------------------------------------------------------


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"invalid --date {value!r}: use YYYY-MM-DD", 2)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Rank and render, but write and send nothing.")
@click.option("--only", default=None, help="Only this subscriber's digest.")
@click.option("--date", "date_text", default=None, help="Digest date YYYY-MM-DD (ignores the delivery hour).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def send(ctx: click.Context, dry_run: bool, only: str | None, date_text: str | None, as_json: bool) -> None:
    """Build and deliver every due digest."""
    from service.delivery import send_due

    runtime = runtime_from(ctx)
    only_email = _email(only) if only else None
    digest_date = _date(date_text)
    mailer = None if dry_run else runtime.mailer()
    bar = _ProgressBar() if sys.stderr.isatty() and not dry_run else None
    try:
        report = send_due(
            runtime.pipeline, mailer=mailer, now=utcnow(), only=only_email, digest_date=digest_date,
            dry_run=dry_run, progress=bar,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.finish()
        if mailer is not None:
            mailer.close()
    human = "\n".join(f"{o.email}: {o.status} ({o.detail})" for o in report.outcomes)
    human += ("\n" if human else "") + ", ".join(f"{k} {v}" for k, v in report.as_dict().items() if k != "paused")
    if report.paused:
        click.echo(f"paperboy: send paused by the circuit breaker: {report.paused}; {report.left} digest(s) left for a later run", err=True)
    emit(report.as_dict(), as_json, human)
    if report.failed or report.paused:
        sys.exit(1)


class _ProgressBar:
    """A progress bar on stderr (a terminal) fed from the pool's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bar: Any = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            if self._bar is None:
                self._bar = click.progressbar(length=total, label="sending", file=sys.stderr, show_pos=True, show_eta=True)
                self._bar.__enter__()
            step, self._shown = max(0, done - self._shown), max(self._shown, done)
            if step:
                self._bar.update(step)

    def finish(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)


@cli.command()
@click.option("--date", "date_text", default=None, help="Only digests of this date YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deliveries(ctx: click.Context, date_text: str | None, as_json: bool) -> None:
    """Count deliveries per status and show the latest errors."""
    runtime = runtime_from(ctx)
    digest_date = _date(date_text)
    with session_scope(runtime.factory) as session:
        by_status = store.count_deliveries_by_status(session, digest_date=digest_date)
        errors = store.recent_delivery_errors(session, digest_date=digest_date)
    data = {
        "date": digest_date.isoformat() if digest_date else None,
        "by_status": by_status,
        "recent_errors": [
            {"email": e, "digest_date": d.isoformat(), "status": st, "attempts": a, "error": err}
            for e, d, st, a, err in errors
        ],
    }
    human = ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "no deliveries"
    for e, d, st, a, err in errors:
        human += f"\n{d} {e}: {st} after {a} attempt(s): {err}"
    emit(data, as_json, human)


@cli.command()
@click.argument("email")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write the HTML here (a name ending .eml writes the message, as --eml).")
@click.option("--eml", type=click.Path(path_type=Path), default=None, help="Write the whole message here, byte for byte as it would be sent.")
@click.option("--date", "date_text", default=None, help="Digest date YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="List the chosen papers with scores and reasons.")
@click.pass_context
def preview(ctx: click.Context, email: str, out: Path | None, eml: Path | None, date_text: str | None, as_json: bool) -> None:
    """Render EMAIL's next digest without sending it."""
    from service.delivery import preview as build_preview
    from service.mailer import build_message, wire_bytes

    if out is not None and out.suffix.lower() == ".eml":  # the older spelling of --eml
        if eml is not None:
            fail("give the message file once: --eml, or --out with a .eml name", 2)
        out, eml = None, out
    runtime = runtime_from(ctx)
    try:
        digest, rendered = build_preview(runtime.pipeline, email=_email(email), now=utcnow(), digest_date=_date(date_text))
    except PaperboyError as exc:
        fail(str(exc), 2)
    written: list[Path] = []
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered.html, encoding="utf-8")
        written.append(out)
    if eml is not None:
        settings = runtime.settings
        message = build_message(
            rendered, to=digest.email, from_addr=settings.from_address, base_url=settings.base_url,
            unsubscribe_url=digest.links.unsubscribe, list_id=f"digest.{settings.list_domain}",
            reply_to=settings.reply_to, unsubscribe_mailto=settings.list_unsubscribe_mailto,
        )  # fmt: skip
        eml.parent.mkdir(parents=True, exist_ok=True)
        eml.write_bytes(wire_bytes(message))
        written.append(eml)
    data = {
        "email": digest.email,
        "digest_date": digest.digest_date.isoformat(),
        "subject": rendered.subject,
        "papers": [
            {
                "title": p.paper.title,
                "key": p.paper.key,
                "score": p.score,
                "reasons": [r.label for r in p.reasons],
                "url": p.paper.abstract_url,
            }
            for p in digest.papers
        ],
    }
    human = rendered.subject + "\n" + "\n".join(
        f"{i}. {p.paper.title} [{p.score:.2f}] — {'; '.join(r.label for r in p.reasons)}"
        for i, p in enumerate(digest.papers, start=1)
    )
    for path in written:
        human += f"\nwritten to {path}"
    emit(data, as_json, human if not as_json else "")


# --- subscribers --------------------------------------------------------------------------------


def _email(address: str) -> str:
    try:
        return normalise_email(address)
    except InputError as exc:
        fail(str(exc), 2)


@cli.group()
def subscribers() -> None:
    """Add, list and remove subscribers."""


@subscribers.command("add")
@click.argument("email")
@click.option("--topic", "topics", multiple=True, help="A topic (repeatable); prefix category: or author: for those kinds.")
@click.option("--exclude", "excludes", multiple=True, help="Drop papers matching this (repeatable).")
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--hour", type=int, default=None, help="Local delivery hour, 0-23.")
@click.option("--max", "max_papers", type=click.IntRange(1, 100), default=None, help="Papers per digest.")
@click.option("--cadence", default="daily", show_default=True, help="daily or weekly.")
@click.option("--skip-empty", is_flag=True, help="Send nothing on days without new papers (default: a short note).")
@click.option("--pending", is_flag=True, help="Add unconfirmed (default: active, for operators adding people who agreed).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def subscribers_add(
    ctx: click.Context, email: str, topics: tuple[str, ...], excludes: tuple[str, ...], timezone: str | None,
    hour: int | None, max_papers: int | None, cadence: str, skip_empty: bool, pending: bool, as_json: bool,
) -> None:  # fmt: skip
    """Add a subscriber with topics."""
    runtime = runtime_from(ctx)
    settings = runtime.settings
    try:
        address = normalise_email(email)
        tz = check_timezone(timezone or settings.default_timezone)
        delivery_hour = check_hour(settings.default_hour if hour is None else hour)
        cadence = check_cadence(cadence)
        parsed = [parse_topic(t) for t in topics] + [parse_topic(t, kind="exclude") for t in excludes]
    except InputError as exc:
        fail(str(exc), 2)
    try:
        with session_scope(runtime.factory) as session:
            subscriber = store.add_subscriber(
                session, email=address, status="pending" if pending else "active", timezone=tz,
                delivery_hour=delivery_hour, cadence=cadence, max_papers=max_papers or settings.default_max_papers,
                topics=parsed, now=utcnow(), skip_empty=skip_empty,
            )  # fmt: skip
            data = _subscriber_dict(subscriber)
    except IntegrityError:
        fail(f"subscriber {address} already exists", 2)
    emit(data, as_json, f"added {address} ({data['status']}, {tz}, {delivery_hour}:00, {len(parsed)} topics)")


def _subscriber_dict(subscriber: Any) -> dict[str, Any]:
    return {
        "email": subscriber.email,
        "status": subscriber.status,
        "timezone": subscriber.timezone,
        "hour": subscriber.delivery_hour,
        "cadence": subscriber.cadence,
        "max_papers": subscriber.max_papers,
        "skip_empty": subscriber.skip_empty,
        "topics": [{"kind": t.kind, "text": t.text, "weight": t.weight} for t in subscriber.topics],
    }


@subscribers.command("list")
@click.option("--status", default=None, help="Only this status.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def subscribers_list(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """List subscribers and their topics."""
    runtime = runtime_from(ctx)
    with session_scope(runtime.factory) as session:
        rows = [_subscriber_dict(s) for s in store.list_subscribers(session, status=status)]
    human = "\n".join(
        f"{r['email']}\t{r['status']}\t{r['timezone']} {r['hour']}:00 {r['cadence']}\t"
        + ", ".join(("-" if t["kind"] == "exclude" else "") + t["text"] for t in r["topics"])
        for r in rows
    ) or "no subscribers"
    emit(rows, as_json, human)


@subscribers.command("remove")
@click.argument("email")
@click.option("--purge", is_flag=True, help="Delete the subscriber and their history instead of unsubscribing.")
@click.pass_context
def subscribers_remove(ctx: click.Context, email: str, purge: bool) -> None:
    """Unsubscribe EMAIL (or delete everything about them with --purge)."""
    runtime = runtime_from(ctx)
    address = _email(email)
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email=address)
        if subscriber is None:
            fail(f"no subscriber {address}", 2)
        if purge:
            store.delete_subscriber(session, subscriber_id=subscriber.id)
        else:
            store.set_subscriber_status(session, subscriber_id=subscriber.id, status="unsubscribed")
    click.echo(f"{'deleted' if purge else 'unsubscribed'} {address}")


# --- serve --------------------------------------------------------------------------------------


# --- bounces -------------------------------------------------------------------------------------


@cli.group()
def bounces() -> None:
    """Bounces and complaints: suppress addresses that cannot or will not receive mail."""


@bounces.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def bounces_import(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Read DSN bounces (RFC 3464) and feedback reports (RFC 5965) from PATH (.eml, mbox or folder)."""
    from collections import Counter

    from service.bounces import apply_events, parse_report, read_messages

    runtime = runtime_from(ctx)
    counts: Counter[str] = Counter()
    not_reports: list[str] = []
    try:
        with session_scope(runtime.factory) as session:
            for name, message in read_messages(path):
                counts["messages"] += 1
                events = parse_report(message)
                if not events:
                    not_reports.append(name)
                    continue
                counts.update(apply_events(session, events=events, soft_limit=runtime.settings.soft_bounce_limit))
    except InputError as exc:
        fail(str(exc), 2)
    data = {
        "messages": counts["messages"], "bounced": counts["bounced"], "complained": counts["complained"],
        "soft": counts["soft"], "unchanged": counts["unchanged"], "not_reports": not_reports,
    }  # fmt: skip
    human = ", ".join(f"{k} {v}" for k, v in data.items() if k != "not_reports")
    if not_reports:
        human += "\nno bounce or complaint found in: " + ", ".join(not_reports)
    emit(data, as_json, human)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--migrate", is_flag=True, help="Apply pending migrations before starting.")
@click.option("--no-scheduler", is_flag=True, help="Serve the web front only (another process schedules).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, migrate: bool, no_scheduler: bool) -> None:
    """Run the web front and the scheduler."""
    import uvicorn

    from service.web.app import create_app

    runtime: Runtime = ctx.obj
    if migrate:
        runtime.migrate()
    runtime_from(ctx)
    app = create_app(runtime, scheduler=not no_scheduler)
    click.echo(f"Paperboy on http://{host}:{port} (database {runtime.engine.url.render_as_string(hide_password=True)})")
    uvicorn.run(app, host=host, port=port, log_config=None)


def main() -> None:
    try:
        cli(prog_name="paperboy")
    except PaperboyError as exc:
        fail(str(exc))
