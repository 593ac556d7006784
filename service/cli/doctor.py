"""The ``paperboy doctor`` command: check settings, database, schema, SMTP and sources."""

from __future__ import annotations

import sys

import click

from service.cli.common import Invocation, emit
from service.errors import ConfigError


@click.command()
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
