"""The ``paperboy`` command: the root group ``cli``, its ``--version`` and ``main()``.

Each command group is a module of this package (db, ingest, send, preview, subscribers, feedback,
bounces, serve, doctor, interests), registered on ``cli`` below; what they share is in ``common``.

Commands print a short human summary, or with ``--json`` one JSON document on stdout; log lines go
to stderr, warnings and errors only unless ``-v`` (``serve``, ``scheduler`` and ``worker`` log at
``PAPERBOY_LOG_LEVEL``). Exit codes: 0 success, 1 a failure while running, 2 bad input (an address,
a time zone, a file, a setting).

This package imports only click and the core modules at start: ``paperboy --help`` must not pay
for the database, the ranking or the web front, so every command imports what it uses inside its
function (for start-up speed; there is no import circle to dodge).
"""

from __future__ import annotations

import sys

import click

from service.cli.bounces import bounces
from service.cli.common import Invocation, fail
from service.cli.db import db
from service.cli.doctor import doctor
from service.cli.feedback import feedback
from service.cli.ingest import ingest
from service.cli.interests import interests
from service.cli.preview import preview
from service.cli.send import deliveries, send
from service.cli.serve import scheduler_command, serve, worker_command
from service.cli.subscribers import subscribers
from service.errors import PaperboyError

# Commands that run until stopped: their logs are the operator's record, so they keep INFO.
LONG_RUNNING = frozenset({"serve", "scheduler", "worker"})


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


for command in (
    db, ingest, send, deliveries, preview, subscribers, feedback, bounces, serve, scheduler_command,
    worker_command, doctor, interests,
):  # fmt: skip
    cli.add_command(command)


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
