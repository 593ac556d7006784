"""The ``paperboy`` command: serve, ingest, send, preview, subscribers, db.

Commands print a short human summary, or with ``--json`` one JSON document on stdout; log lines go
to stderr, warnings and errors only unless ``-v`` (``serve``, ``scheduler`` and ``worker`` log at
``PAPERBOY_LOG_LEVEL``). Exit codes: 0 success, 1 a failure while running, 2 bad input (an address,
a time zone, a file, a setting).

This module imports only click at start: ``paperboy --help`` must not pay for the database, the
ranking or the web front, so every command imports what it uses inside its function.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from service.errors import ConfigError, InputError, PaperboyError, SchemaError, SourceError
from service.statuses import SUBSCRIBER_STATUSES
from service.words import counted

if TYPE_CHECKING:
    from service.delivery.runtime import Runtime
    from service.settings import Settings

# Commands that run until stopped: their logs are the operator's record, so they keep INFO.
LONG_RUNNING = frozenset({"serve", "scheduler", "worker"})


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"paperboy: {message}", err=True)
    sys.exit(code)


def emit(data: Any, as_json: bool, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human)


@dataclass
class Invocation:
    """What the group's options decided, and the settings and runtime, made on first use."""

    verbose: bool = False
    long_running: bool = False
    _settings: Settings | None = None
    _runtime: Runtime | None = None

    def load_settings(self) -> Settings:
        """The settings (raises ConfigError); logging is configured once they are read."""
        if self._settings is None:
            from service import logs
            from service.settings import load_settings

            self._settings = load_settings()
            level = logs.command_level(
                self._settings.log_level, verbose=self.verbose, long_running=self.long_running
            )
            logs.configure(level, self._settings.log_format)
        return self._settings

    def settings(self) -> Settings:
        try:
            return self.load_settings()
        except ConfigError as exc:
            fail(str(exc), 2)

    def runtime(self, settings: Settings | None = None) -> Runtime:
        """The process's runtime, built from ``settings`` (default: the loaded ones) on first use."""
        if self._runtime is None:
            from service.delivery.runtime import Runtime

            self._runtime = Runtime(settings or self.settings())
        return self._runtime


def runtime_from(ctx: click.Context, *, check_schema: bool = True) -> Runtime:
    runtime = ctx.find_object(Invocation).runtime()
    if check_schema:
        try:
            runtime.require_current_schema()
        except SchemaError as exc:
            fail(str(exc))
    return runtime


def version() -> str:
    """The installed distribution's version, whatever the distribution is called."""
    from importlib import metadata

    names = list(metadata.packages_distributions().get("service", []))
    # An editable install records no package files; its console script still names us.
    names += [
        ep.dist.name
        for ep in metadata.entry_points(group="console_scripts")
        if ep.value == "service.cli.main:main" and ep.dist is not None
    ]
    for name in dict.fromkeys(names):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    from service import __version__

    return __version__


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"paperboy {version()}")
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show INFO log lines on stderr (commands other than serve, scheduler and worker show only warnings and errors).",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Paperboy: a daily digest of trending research papers, by email."""
    ctx.obj = _RUN["invocation"] = Invocation(
        verbose=verbose, long_running=ctx.invoked_subcommand in LONG_RUNNING
    )


# --- db -----------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply migrations up to the latest revision."""
    from service.storage import migrations

    runtime = runtime_from(ctx, check_schema=False)
    migrations.upgrade(runtime.settings.database_url, revision)
    if runtime.settings.database_url.startswith("postgresql"):
        from service.delivery.queue import apply_schema

        if apply_schema(runtime.settings.database_url):
            click.echo("installed the delivery queue's tables (procrastinate)")
    click.echo(f"database at {migrations.current_revision(runtime.engine)}")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Show the database's revision and the code's."""
    from service.storage import migrations

    runtime = runtime_from(ctx, check_schema=False)
    current = migrations.current_revision(runtime.engine)
    head = migrations.head_revision(runtime.settings.database_url)
    click.echo(
        f"database {current or '(empty)'}, code {head}: {'up to date' if current == head else 'upgrade needed'}"
    )
    if current != head:
        sys.exit(1)


# --- ingest -------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Listing file(s) to ingest; with --source hf_daily|arxiv, saved responses of that source.",
)
@click.option("--sample", is_flag=True, help="Ingest the bundled sample listings.")
@click.option("--if-empty", is_flag=True, help="Only when the database holds no paper yet.")
@click.option(
    "--source",
    "source_name",
    default=None,
    help="Run only source NAME (files, hf_daily, arxiv; default: all enabled).",
)
@click.option(
    "--since",
    "since_text",
    default=None,
    help="Backfill hf_daily or arxiv from this day YYYY-MM-DD.",
)
@click.option(
    "--until",
    "until_text",
    default=None,
    help="Last day of a backfill YYYY-MM-DD (default: today).",
)
@click.option(
    "--id",
    "arxiv_ids",
    multiple=True,
    help="Look these arXiv ids up in the export API (with --source arxiv).",
)
@click.option(
    "--fill-categories",
    is_flag=True,
    help="Look up the arXiv categories of stored papers that have none, e.g. from Hugging Face (with --source arxiv).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_context
def ingest(
    ctx: click.Context, files: tuple[Path, ...], sample: bool, if_empty: bool, source_name: str | None,
    since_text: str | None, until_text: str | None, arxiv_ids: tuple[str, ...], as_json: bool,
    fill_categories: bool = False,
) -> None:  # fmt: skip
    """Fetch or read listings and merge them into the paper ledger."""
    from service.ledger import source_runs
    from service.ledger.ingest import ingest_file, utcnow
    from service.records import IngestReport
    from service.resources import sample_listings_path
    from service.settings import KNOWN_SOURCES
    from service.sources.arxiv_ids import parse_arxiv_id
    from service.storage import store
    from service.storage.engine import session_scope

    runtime = runtime_from(ctx)
    settings = runtime.settings
    if source_name is not None and source_name not in KNOWN_SOURCES:
        fail(f"unknown source {source_name!r}; known: {', '.join(KNOWN_SOURCES)}", 2)
    remote = source_name in source_runs.REMOTE_SOURCES
    if (since_text or until_text) and not remote:
        fail("--since/--until backfill needs --source hf_daily or --source arxiv", 2)
    if arxiv_ids and source_name != "arxiv":
        fail("--id needs --source arxiv", 2)
    if fill_categories:
        if source_name != "arxiv" or arxiv_ids or files or sample or since_text or until_text:
            fail("--fill-categories goes with --source arxiv alone", 2)
        _fill_categories(runtime, as_json)
        return
    if if_empty:
        with session_scope(runtime.factory) as session:
            if store.count_papers(session):
                emit(
                    {"skipped": "database not empty"},
                    as_json,
                    "database already has papers; nothing ingested",
                )
                return
    reports = []
    embed = runtime.settings.semantic != "off"
    try:
        if sample:
            reports.append(
                ingest_file(
                    runtime.factory, path=sample_listings_path(), source="sample", embed=embed
                )
            )
        for path in files:
            if remote:
                reports.append(
                    source_runs.replay_file(runtime.factory, source=source_name, path=path)
                )
            else:
                reports.append(ingest_file(runtime.factory, path=path, source="file", embed=embed))
    except SourceError as exc:
        fail(str(exc), 2)
    if not sample and not files:
        with source_runs.make_fetcher(settings) as fetcher:
            if since_text or until_text:
                since = _date(since_text) or utcnow().date()
                until = _date(until_text) or utcnow().date()
                if since > until:
                    fail(f"--since {since} is after --until {until}", 2)
                bar = _ProgressBar(
                    f"backfill {source_name} {since}..{until}",
                    enabled=not as_json and sys.stderr.isatty(),
                )
                backfill = (
                    source_runs.backfill_hf
                    if source_name == "hf_daily"
                    else source_runs.backfill_arxiv
                )
                try:
                    reports.extend(
                        backfill(
                            runtime.factory,
                            settings=settings,
                            fetcher=fetcher,
                            since=since,
                            until=until,
                            progress=bar,
                        )
                    )
                finally:
                    bar.close()
            elif arxiv_ids:
                ids = []
                for text in arxiv_ids:
                    parsed_id = parse_arxiv_id(text)
                    if parsed_id is None:
                        fail(f"--id {text!r} is not an arXiv id", 2)
                    ids.append(parsed_id[0])
                try:
                    reports.append(
                        source_runs.lookup_arxiv(
                            runtime.factory, settings=settings, fetcher=fetcher, ids=ids
                        )
                    )
                except PaperboyError as exc:
                    reports.append(IngestReport(source="arxiv", errors=[str(exc)], status="failed"))
            else:
                names = [source_name] if source_name else settings.enabled_sources
                reports.extend(
                    source_runs.ingest_sources(
                        runtime.factory, settings=settings, names=names, fetcher=fetcher
                    )
                )
    summaries = [r.as_dict() | ({"errors": r.errors} if r.errors else {}) for r in reports]
    human = (
        "\n".join(
            f"{r.source}: fetched {r.fetched}, new {r.new}, updated {r.updated}, unchanged {r.unchanged}, rejected {r.rejected}"
            + (f", skipped {r.skipped}" if r.skipped else "")
            + (f" ({r.status.replace('_', ' ')})" if r.status != "ok" else "")
            + (f" — {'; '.join(r.errors)}" if r.errors else "")
            for r in reports
        )
        or "nothing to ingest"
    )
    emit(summaries[0] if len(summaries) == 1 else summaries, as_json, human)
    if any(r.errors for r in reports):
        sys.exit(1)


def _fill_categories(runtime: Any, as_json: bool) -> None:
    """`paperboy ingest --source arxiv --fill-categories`: every stored paper without categories."""
    from service.ledger import categories, source_runs

    bar = _ProgressBar("arxiv categories", enabled=not as_json and sys.stderr.isatty())
    try:
        with source_runs.make_fetcher(runtime.settings) as fetcher:
            report = categories.fill_categories(
                runtime.factory, settings=runtime.settings, fetcher=fetcher, progress=bar
            )
    finally:
        bar.close()
    human = (
        f"arxiv categories: asked {report.asked}, filled {report.filled}, not found {report.not_found}"
        + (f" — {'; '.join(report.errors)}" if report.errors else "")
    )
    emit(report.as_dict() | ({"errors": report.errors} if report.errors else {}), as_json, human)
    if report.errors:
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
@click.option(
    "--date", "date_text", default=None, help="Digest date YYYY-MM-DD (ignores the delivery hour)."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def send(
    ctx: click.Context, dry_run: bool, only: str | None, date_text: str | None, as_json: bool
) -> None:
    """Build and deliver every due digest."""
    from service.delivery.fan_out import fan_out
    from service.delivery.planning import send_due
    from service.ledger.ingest import utcnow

    runtime = runtime_from(ctx)
    only_email = _email(only) if only else None
    digest_date = _date(date_text)
    enqueue = None if dry_run else fan_out(runtime)
    mailer = None if dry_run or enqueue is not None else runtime.mailer()
    bar = _ProgressBar("sending", enabled=sys.stderr.isatty() and not dry_run)
    try:
        with _stop_on_sigterm(runtime):
            report = send_due(
                runtime.pipeline, mailer=mailer, now=utcnow(), only=only_email, digest_date=digest_date,
                dry_run=dry_run, progress=bar.reach if bar.enabled else None, stop=runtime.stopping,
                enqueue=enqueue,
            )  # fmt: skip
    finally:
        bar.close()
        if mailer is not None:
            mailer.close()
    human = "\n".join(f"{o.email}: {o.status} ({o.detail})" for o in report.outcomes)
    human += ("\n" if human else "") + ", ".join(
        f"{k} {v}" for k, v in report.as_dict().items() if k not in ("paused", "aborted")
    )
    if report.aborted:
        click.echo(
            f"paperboy: send stopped: {report.aborted}; no further message was sent, and what is left stays for a later run",
            err=True,
        )
    elif report.paused:
        click.echo(
            f"paperboy: send paused by the circuit breaker: {report.paused}; {counted(report.left, 'digest')} left for a later run",
            err=True,
        )
    if report.in_doubt:
        click.echo(
            f"paperboy: {counted(report.in_doubt, 'digest')} in doubt (sent, but the server never confirmed); not sent again: see `paperboy deliveries`",
            err=True,
        )
    nothing_sent = not report.sent and (report.deferred or report.in_doubt)
    if nothing_sent and not (report.aborted or report.paused):
        click.echo(
            "paperboy: send could send nothing: every attempt was deferred or left in doubt",
            err=True,
        )
    emit(report.as_dict(), as_json, human)
    if report.failed or report.paused or report.aborted or report.in_doubt or nothing_sent:
        sys.exit(1)


class _ProgressBar:
    """A click progress bar on stderr, shown once the total is known; silent when disabled.

    Thread-safe: the SMTP pool's connections report from their own threads. Call it with
    ``(step, total)`` to advance by ``step``; ``reach(done, total)`` for a running count.
    """

    def __init__(self, label: str, *, enabled: bool) -> None:
        self.label, self.enabled = label, enabled
        self._lock = threading.Lock()
        self._bar: Any = None
        self._shown = 0

    def __call__(self, step: int, total: int | None) -> None:
        self.reach(self._shown + step, total)

    def reach(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._bar is None:
                self._bar = click.progressbar(
                    length=total or 0,
                    label=self.label,
                    file=sys.stderr,
                    show_pos=True,
                    show_eta=True,
                )
                self._bar.__enter__()
            step, self._shown = max(0, done - self._shown), max(self._shown, done)
            if step:
                self._bar.update(step)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)


@cli.command()
@click.option("--date", "date_text", default=None, help="Only digests of this date YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deliveries(ctx: click.Context, date_text: str | None, as_json: bool) -> None:
    """Count deliveries per status and show the latest errors."""
    from service.storage import store
    from service.storage.engine import session_scope

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
        human += f"\n{d} {e}: {st} after {counted(a, 'attempt')}: {err}"
    emit(data, as_json, human)


@cli.command()
@click.argument("email")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the HTML here (a name ending .eml writes the message, as --eml).",
)
@click.option(
    "--eml",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the whole message here, byte for byte as it would be sent.",
)
@click.option("--date", "date_text", default=None, help="Digest date YYYY-MM-DD.")
@click.option(
    "--json", "as_json", is_flag=True, help="List the chosen papers with scores and reasons."
)
@click.pass_context
def preview(
    ctx: click.Context,
    email: str,
    out: Path | None,
    eml: Path | None,
    date_text: str | None,
    as_json: bool,
) -> None:
    """Render EMAIL's next digest without sending it."""
    from service.delivery.selection import preview as build_preview
    from service.digest.message import build_message, wire_bytes
    from service.ledger.ingest import utcnow

    if out is not None and out.suffix.lower() == ".eml":  # the older spelling of --eml
        if eml is not None:
            fail("give the message file once: --eml, or --out with a .eml name", 2)
        out, eml = None, out
    runtime = runtime_from(ctx)
    try:
        digest, rendered = build_preview(
            runtime.pipeline, email=_email(email), now=utcnow(), digest_date=_date(date_text)
        )
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
                "id": p.paper.paper_id,
                "arxiv_id": p.paper.arxiv_id,
                "score": p.score,
                "reasons": [r.label for r in p.reasons],
                "matches": [
                    {"topic": r.topic, "terms": list(r.terms)}
                    for r in p.reasons
                    if r.topic is not None
                ],
                "upvotes": p.paper.upvotes,
                "url": p.paper.abstract_url,
            }
            for p in digest.papers
        ],
    }
    human = (
        rendered.subject
        + "\n"
        + "\n".join(
            f"{i}. {p.paper.title} [{p.score:.2f}] — {'; '.join(r.label for r in p.reasons)}"
            for i, p in enumerate(digest.papers, start=1)
        )
    )
    for path in written:
        human += f"\nwritten to {path}"
    emit(data, as_json, human if not as_json else "")


# --- subscribers --------------------------------------------------------------------------------


def _email(address: str) -> str:
    from service.subscribers.validation import normalise_email

    try:
        return normalise_email(address)
    except InputError as exc:
        fail(str(exc), 2)


@cli.group()
def subscribers() -> None:
    """Add, list and remove subscribers."""


@subscribers.command("add")
@click.argument("email")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="A topic (repeatable); prefix category: or author: for those kinds.",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    help="Drop papers containing every word of this (repeatable).",
)
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--hour", type=int, default=None, help="Local delivery hour, 0-23.")
@click.option(
    "--max", "max_papers", type=click.IntRange(1, 100), default=None, help="Papers per digest."
)
@click.option("--cadence", default="daily", show_default=True, help="daily or weekly.")
@click.option(
    "--skip-empty",
    is_flag=True,
    help="Send nothing on days without new papers (default: a short note).",
)
@click.option(
    "--floor",
    "relevance_floor",
    type=float,
    default=None,
    help="Relevance floor 0-1 (default PAPERBOY_RELEVANCE_FLOOR).",
)
@click.option(
    "--trending-share",
    type=float,
    default=None,
    help="Share 0-1 of trending papers (default PAPERBOY_TRENDING_SHARE).",
)
@click.option(
    "--pending",
    is_flag=True,
    help="Add unconfirmed (default: active, for operators adding people who agreed).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def subscribers_add(
    ctx: click.Context, email: str, topics: tuple[str, ...], excludes: tuple[str, ...], timezone: str | None,
    hour: int | None, max_papers: int | None, cadence: str, skip_empty: bool, pending: bool, as_json: bool,
    relevance_floor: float | None = None, trending_share: float | None = None,
) -> None:  # fmt: skip
    """Add a subscriber with topics."""
    from sqlalchemy.exc import IntegrityError

    from service.ledger.ingest import utcnow
    from service.storage import store
    from service.storage.engine import session_scope
    from service.subscribers.validation import (
        check_cadence,
        check_hour,
        check_share,
        normalise_email,
        parse_topic,
    )
    from service.timezones import check_timezone

    runtime = runtime_from(ctx)
    settings = runtime.settings
    try:
        address = normalise_email(email)
        tz = check_timezone(timezone or settings.default_timezone)
        delivery_hour = check_hour(settings.default_hour if hour is None else hour)
        cadence = check_cadence(cadence)
        parsed = [parse_topic(t) for t in topics] + [
            parse_topic(t, kind="exclude") for t in excludes
        ]
        for (kind, *_), entered in zip(parsed[len(topics) :], excludes, strict=True):
            if kind != "exclude":
                raise InputError(
                    f"--exclude {entered!r}: an exclude is words a paper must not contain, not a {kind}"
                )
        if relevance_floor is not None:
            check_share(relevance_floor, name="--floor")
        if trending_share is not None:
            check_share(trending_share, name="--trending-share")
    except InputError as exc:
        fail(str(exc), 2)
    try:
        with session_scope(runtime.factory) as session:
            subscriber = store.add_subscriber(
                session, email=address, status="pending" if pending else "active", timezone=tz,
                delivery_hour=delivery_hour, cadence=cadence, max_papers=max_papers or settings.default_max_papers,
                topics=parsed, now=utcnow(), skip_empty=skip_empty,
                relevance_floor=relevance_floor, trending_share=trending_share,
            )  # fmt: skip
            data = _subscriber_dict(subscriber)
    except IntegrityError:
        with session_scope(runtime.factory) as session:
            existing = store.get_subscriber(session, email=address)
            if existing is not None and store.is_suppressed(existing):
                fail(
                    f"subscriber {address} already exists and is suppressed ({existing.status}: "
                    f"{existing.suppressed_reason or 'bounced or complained'}); it is never mailed "
                    "unless you clear it with `paperboy subscribers unsuppress`",
                    2,
                )
        fail(f"subscriber {address} already exists", 2)
    emit(
        data,
        as_json,
        f"added {address} ({data['status']}, {tz}, {delivery_hour}:00, {counted(len(parsed), 'topic')})",
    )
    _warn_quiet_topics(runtime, parsed)


def _warn_quiet_topics(runtime: Any, topics: list[tuple[str, str, float]]) -> None:
    """A warning on stderr for each topic that matched no recent paper (a typo, an unfilled category)."""
    from service.ledger.ingest import utcnow
    from service.records import Topic
    from service.storage.engine import session_scope
    from service.subscribers import topic_check

    with session_scope(runtime.factory) as session:
        quiet = topic_check.quiet_topics(session, topics=[Topic(*t) for t in topics], now=utcnow())
    for line in topic_check.warning(quiet):
        click.echo(f"warning: {line}", err=True)


def _subscriber_dict(subscriber: Any) -> dict[str, Any]:
    return {
        "email": subscriber.email,
        "status": subscriber.status,
        "timezone": subscriber.timezone,
        "hour": subscriber.delivery_hour,
        "cadence": subscriber.cadence,
        "max_papers": subscriber.max_papers,
        "skip_empty": subscriber.skip_empty,
        "relevance_floor": subscriber.relevance_floor,
        "trending_share": subscriber.trending_share,
        "topics": [{"kind": t.kind, "text": t.text, "weight": t.weight} for t in subscriber.topics],
    }


@subscribers.command("list")
@click.option(
    "--status",
    type=click.Choice(SUBSCRIBER_STATUSES),
    default=None,
    help="Only subscribers in this status.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def subscribers_list(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """List subscribers and their topics."""
    from service.storage import store
    from service.storage.engine import session_scope
    from service.subscribers.validation import topic_label

    runtime = runtime_from(ctx)
    with session_scope(runtime.factory) as session:
        rows = [_subscriber_dict(s) for s in store.list_subscribers(session, status=status)]
    human = (
        "\n".join(
            f"{r['email']}\t{r['status']}\t{r['timezone']} {r['hour']}:00 {r['cadence']}\t"
            + ", ".join(topic_label(t["kind"], t["text"], t["weight"]) for t in r["topics"])
            for r in rows
        )
        or "no subscribers"
    )
    emit(rows, as_json, human)


@subscribers.command("remove")
@click.argument("email")
@click.option(
    "--purge",
    is_flag=True,
    help="Delete the subscriber and their history instead of unsubscribing.",
)
@click.pass_context
def subscribers_remove(ctx: click.Context, email: str, purge: bool) -> None:
    """Unsubscribe EMAIL (or delete everything about them with --purge)."""
    from service.storage import store
    from service.storage.engine import session_scope

    runtime = runtime_from(ctx)
    address = _email(email)
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email=address)
        if subscriber is None:
            fail(f"no subscriber {address}", 2)
        if purge:
            if not store.purge_subscriber(session, subscriber_id=subscriber.id):
                click.echo(
                    f"deleted the history of {address}; the address stays, {subscriber.status}, as the record "
                    "that it is never mailed again"
                )
                return
        else:  # a bounced or complained address keeps that status: it says why it is never mailed
            store.set_subscriber_status(
                session,
                subscriber_id=subscriber.id,
                status="unsubscribed",
                only_from=("pending", "active", "paused"),
            )
    click.echo(f"{'deleted' if purge else 'unsubscribed'} {address}")


@subscribers.command("unsuppress")
@click.argument("email")
@click.pass_context
def subscribers_unsuppress(ctx: click.Context, email: str) -> None:
    """Clear EMAIL's bounce or complaint: it becomes unsubscribed and may subscribe again.

    Nothing else ever mails a bounced or complained address; do this only when you know the
    address works again and its owner wants the digest.
    """
    import logging

    from service.storage import store
    from service.storage.engine import session_scope

    runtime = runtime_from(ctx)
    address = _email(email)
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email=address)
        if subscriber is None:
            fail(f"no subscriber {address}", 2)
        reason = subscriber.suppressed_reason
        was = store.unsuppress_subscriber(session, email=address)
        subscriber_id = subscriber.id
    if was is None:
        fail(f"{address} is not suppressed ({subscriber.status})", 2)
    logging.getLogger(__name__).warning(
        "subscriber_unsuppressed subscriber_id=%s was=%s reason=%r by=cli",
        subscriber_id,
        was,
        reason,
    )
    click.echo(f"unsuppressed {address} (was {was}): now unsubscribed; it may subscribe again")


# --- feedback -----------------------------------------------------------------------------------


@cli.command()
@click.argument("email")
@click.argument("paper")
@click.argument("vote")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def feedback(ctx: click.Context, email: str, paper: str, vote: str, as_json: bool) -> None:
    """Record EMAIL's vote (up or down) on PAPER (an arXiv id or an internal id from preview --json)."""
    from service.ledger.ingest import utcnow
    from service.storage.engine import session_scope
    from service.subscribers.votes import cast_vote

    runtime = runtime_from(ctx)
    address = _email(email)
    try:
        with session_scope(runtime.factory) as session:
            paper_id, value, changed = cast_vote(
                session, email=address, paper=paper, vote=vote, now=utcnow()
            )
    except InputError as exc:
        fail(str(exc), 2)
    data = {"email": address, "paper_id": paper_id, "vote": value, "changed": changed}
    word = "up" if value > 0 else "down"
    emit(
        data,
        as_json,
        f"{address}: {word} on paper {paper_id}" + ("" if changed else " (already recorded)"),
    )


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

    from service.delivery.bounces import apply_events, parse_report, read_messages
    from service.storage.engine import session_scope

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
                counts.update(
                    apply_events(
                        session, events=events, soft_limit=runtime.settings.soft_bounce_limit
                    )
                )
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
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--migrate", is_flag=True, help="Apply pending migrations before starting.")
@click.option(
    "--no-scheduler", is_flag=True, help="Serve the web front only (another process schedules)."
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, migrate: bool, no_scheduler: bool) -> None:
    """Run the web front and the scheduler.

    Without PAPERBOY_BASE_URL, links in emails point at --host and --port.
    """
    import uvicorn

    from service.delivery.scheduler import build_scheduler
    from service.settings import listen_url, misses_listener
    from service.web.app import create_app
    from service.web.server import uvicorn_options

    invocation = ctx.find_object(Invocation)
    settings = invocation.settings()
    here = listen_url(host, port)
    if not settings.base_url_given and settings.base_url != here:
        click.echo(
            f"paperboy: links in emails point at {here} (PAPERBOY_BASE_URL is unset); "
            f"set PAPERBOY_BASE_URL={here} for paperboy commands run elsewhere",
            err=True,
        )
    elif settings.base_url_given and misses_listener(settings.base_url, host, port):
        click.echo(
            f"paperboy: warning: PAPERBOY_BASE_URL={settings.base_url} does not point at {here}, "
            "where this server listens: links in emails will not reach it",
            err=True,
        )
    runtime = invocation.runtime(settings.served_at(host, port))
    if migrate:
        runtime.migrate()
    runtime_from(ctx)
    app = create_app(runtime, background=None if no_scheduler else build_scheduler(runtime))
    database = runtime.engine.url.render_as_string(hide_password=True)
    click.echo(
        f"Paperboy on {here} (database {database}; links in emails to {runtime.settings.base_url})"
    )
    uvicorn.run(app, host=host, port=port, log_config=None, **uvicorn_options(runtime.settings))


@contextmanager
def _stop_on_sigterm(runtime: Runtime) -> Iterator[None]:
    """SIGTERM (docker stop) lets a send run finish the messages in flight, then stop."""
    import signal

    def stop(signum: int, _frame: object) -> None:
        click.echo("paperboy: stopping after the messages in flight", err=True)
        runtime.stopping.set()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli.command("scheduler")
@click.pass_context
def scheduler_command(ctx: click.Context) -> None:
    """Run the ingest and delivery ticks without the web front, until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from service.delivery.scheduler import build_scheduler

    runtime = runtime_from(ctx)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    jobs = build_scheduler(runtime)
    jobs.start()
    click.echo(
        f"Paperboy scheduler running ({', '.join(j.id for j in jobs.get_jobs())}); stop with SIGTERM or Ctrl-C"
    )
    stop.wait()
    click.echo("stopping: waiting for the running tick to finish")
    runtime.stopping.set()
    jobs.shutdown(wait=True)


@cli.command("worker")
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="Batches at once (default PAPERBOY_WORKER_CONCURRENCY).",
)
@click.option(
    "--once", is_flag=True, help="Stop when the queue is empty instead of waiting for more."
)
@click.option("--name", default=None, help="Worker name in logs.")
@click.pass_context
def worker_command(
    ctx: click.Context, concurrency: int | None, once: bool, name: str | None
) -> None:
    """Send queued delivery batches (PAPERBOY_DELIVERY_QUEUE=procrastinate) until SIGTERM."""
    runtime = runtime_from(ctx)
    if not runtime.settings.database_url.startswith("postgresql"):
        fail(
            "paperboy worker needs PostgreSQL (PAPERBOY_DATABASE_URL=postgresql+psycopg://…); on SQLite the scheduler sends itself",
            2,
        )
    from service.delivery.queue import run_worker

    run_worker(
        runtime,
        concurrency=concurrency or runtime.settings.worker_concurrency,
        wait=not once,
        name=name,
    )


# --- doctor -------------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check settings, database, schema, SMTP and sources; exit 1 if anything fails."""
    from service.ops.doctor import fail as failed
    from service.ops.doctor import run_checks

    invocation = ctx.find_object(Invocation)
    try:
        invocation.load_settings()
    except ConfigError as exc:  # the doctor reports it with everything else it can check
        checks = [failed("settings", str(exc))]
    else:
        checks = run_checks(invocation.runtime())
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    human = "\n".join(f"{marks[c.status]}  {c.name}: {c.detail}" for c in checks)
    emit([c.as_dict() for c in checks], as_json, human)
    if any(c.status == "fail" for c in checks):
        sys.exit(1)


_RUN: dict[str, Invocation] = {}  # this process's invocation, for main's last word on a failure


def _database_failure(exc: BaseException) -> str | None:
    """One line for a failure of the database itself (unreachable, damaged), naming it."""
    if "sqlalchemy" not in sys.modules:
        return None
    from service.storage.engine import database_failure

    invocation = _RUN.get("invocation")
    settings = invocation._settings if invocation is not None else None
    return database_failure(exc, settings.database_url if settings is not None else None)


def main() -> None:
    try:
        cli(prog_name="paperboy")
    except PaperboyError as exc:
        fail(str(exc))
    except Exception as exc:
        # A broken store (a damaged SQLite file, a database gone) is an operator's problem with
        # one cause: say it in one line naming the database, not in a traceback.
        line = _database_failure(exc)
        if line is None:
            raise
        fail(line)
