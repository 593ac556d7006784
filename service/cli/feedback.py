"""The ``paperboy feedback`` command: record a subscriber's vote on a paper."""

from __future__ import annotations

import click

from service.cli.common import emit, fail, parse_email, runtime_from
from service.errors import InputError


@click.command()
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
    address = parse_email(email)
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
