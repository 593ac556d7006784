"""The long-running commands: ``paperboy serve`` (web front and scheduler), ``scheduler``, ``worker``."""

from __future__ import annotations

import click

from service.cli.common import Invocation, fail, runtime_from


@click.command()
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

    from service.delivery.heap import settle_heap
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
    settle_heap()
    uvicorn.run(app, host=host, port=port, log_config=None, **uvicorn_options(runtime.settings))


@click.command("scheduler")
@click.pass_context
def scheduler_command(ctx: click.Context) -> None:
    """Run the ingest and delivery ticks without the web front, until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from service.delivery.heap import settle_heap
    from service.delivery.scheduler import build_scheduler

    runtime = runtime_from(ctx)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    jobs = build_scheduler(runtime)
    settle_heap()
    jobs.start()
    click.echo(
        f"Paperboy scheduler running ({', '.join(j.id for j in jobs.get_jobs())}); stop with SIGTERM or Ctrl-C"
    )
    stop.wait()
    click.echo("stopping: waiting for the running tick to finish")
    runtime.stopping.set()
    jobs.shutdown(wait=True)


@click.command("worker")
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
