"""The ``paperboy send`` and ``paperboy deliveries`` commands: deliver the due digests, count the results."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from service.cli.common import ProgressBar, emit, parse_date, parse_email, runtime_from
from service.words import counted

if TYPE_CHECKING:
    from service.delivery.runtime import Runtime


@click.command()
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
    from service.delivery.heap import settle_heap
    from service.delivery.planning import send_due
    from service.ledger.ingest import utcnow

    runtime = runtime_from(ctx)
    only_email = parse_email(only) if only else None
    digest_date = parse_date(date_text)
    enqueue = None if dry_run else fan_out(runtime)
    mailer = None if dry_run or enqueue is not None else runtime.mailer()
    bar = ProgressBar("sending", enabled=sys.stderr.isatty() and not dry_run)
    settle_heap()
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


@click.command()
@click.option("--date", "date_text", default=None, help="Only digests of this date YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deliveries(ctx: click.Context, date_text: str | None, as_json: bool) -> None:
    """Count deliveries per status and show the latest errors."""
    from service.storage import store
    from service.storage.engine import session_scope

    runtime = runtime_from(ctx)
    digest_date = parse_date(date_text)
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
