"""The ``paperboy db`` commands: apply the schema migrations, show whether any is pending, and
prune old digests."""

from __future__ import annotations

import sys

import click

from service.cli.common import runtime_from


@click.group()
def db() -> None:
    """Database schema migrations and retention."""


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


@db.command("prune")
@click.pass_context
def db_prune(ctx: click.Context) -> None:
    """Delete finished digests older than PAPERBOY_DELIVERY_RETENTION_DAYS (the scheduler also
    does it after each ingest)."""
    from service.delivery.retention import prune, retention_days
    from service.ledger.ingest import utcnow

    runtime = runtime_from(ctx)
    deleted = prune(runtime.factory, settings=runtime.settings, now=utcnow())
    click.echo(
        f"pruned {deleted} finished digests older than {retention_days(runtime.settings)} days"
    )
