"""The ``paperboy db`` commands: apply the schema migrations and show whether any is pending."""

from __future__ import annotations

import sys

import click

from service.cli.common import runtime_from


@click.group()
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
