"""The ``paperboy bounces`` commands: read bounce and complaint reports and suppress those addresses."""

from __future__ import annotations

from pathlib import Path

import click

from service.cli.common import emit, fail, runtime_from
from service.errors import InputError


@click.group()
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
