"""The ``paperboy interests`` commands: a subscriber's named interests (add, list, remove, rename,
move), each with its own topics and share of the digest."""

from __future__ import annotations

from typing import Any

import click

from service.cli.common import emit, fail, parse_email, runtime_from
from service.errors import InputError
from service.words import counted


@click.group()
def interests() -> None:
    """A subscriber's named interests: each has its own topics, liked papers and share of the
    digest, and its own section in the email."""


def _parse(topics: tuple[str, ...], excludes: tuple[str, ...]) -> list[tuple[str, str, float]]:
    from service.subscribers.validation import parse_topic

    parsed = [parse_topic(t) for t in topics]
    for entered in excludes:
        kind, text, weight = parse_topic(entered, kind="exclude")
        if kind != "exclude":
            raise InputError(
                f"--exclude {entered!r}: an exclude is words a paper must not contain, not a {kind}"
            )
        parsed.append((kind, text, weight))
    return parsed


def interest_dict(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "position": row.position + 1,
        "share": row.share,
        "topics": [{"kind": t.kind, "text": t.text, "weight": t.weight} for t in row.topics],
        "likes": [{"paper_id": lk.paper_id, "title": lk.title} for lk in row.likes],
    }


def _subscriber_or_fail(session: Any, address: str) -> Any:
    from service.storage import store

    subscriber = store.get_subscriber(session, email=address)
    if subscriber is None:
        fail(f"no subscriber {address}", 2)
    return subscriber


def _interest_or_fail(session: Any, subscriber: Any, name: str) -> Any:
    from service.storage import store

    interest = store.get_interest(session, subscriber_id=subscriber.id, name=name)
    if interest is None:
        known = ", ".join(repr(i.name) for i in subscriber.interests) or "none"
        fail(f"{subscriber.email} has no interest {name!r} (theirs: {known})", 2)
    return interest


@interests.command("add")
@click.argument("email")
@click.argument("name")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="A topic (repeatable); prefix category: or author: for those kinds, ^2 for a weight.",
)
@click.option(
    "--exclude", "excludes", multiple=True, help="Drop papers containing every word of this."
)
@click.option(
    "--share",
    type=float,
    default=None,
    help="Share 0-1 of the digest's papers (default: an equal part of what is left).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def interests_add(
    ctx: click.Context, email: str, name: str, topics: tuple[str, ...], excludes: tuple[str, ...],
    share: float | None, as_json: bool,
) -> None:  # fmt: skip
    """Add an interest NAME to the subscriber EMAIL (at most 20 interests)."""
    from service.ledger.ingest import utcnow
    from service.storage import store
    from service.storage.engine import session_scope

    address = parse_email(email)
    try:
        parsed = _parse(topics, excludes)
    except InputError as exc:
        fail(str(exc), 2)
    runtime = runtime_from(ctx)
    try:
        with session_scope(runtime.factory) as session:
            subscriber = _subscriber_or_fail(session, address)
            interest = store.add_interest(
                session, subscriber=subscriber, name=name, now=utcnow(), topics=parsed, share=share
            )
            (row,) = [
                r
                for r in store.list_interests(session, subscriber_id=subscriber.id)
                if r.id == interest.id
            ]
            data = interest_dict(row)
    except InputError as exc:
        fail(str(exc), 2)
    emit(
        data,
        as_json,
        f"added interest {data['name']!r} to {address} ({counted(len(parsed), 'topic')})",
    )


@interests.command("list")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def interests_list(ctx: click.Context, email: str, as_json: bool) -> None:
    """List the subscriber's interests in digest order, with their topics and liked papers."""
    from service.storage import store
    from service.storage.engine import session_scope
    from service.subscribers.validation import topic_label

    address = parse_email(email)
    runtime = runtime_from(ctx)
    with session_scope(runtime.factory) as session:
        subscriber = _subscriber_or_fail(session, address)
        rows = [
            interest_dict(r) for r in store.list_interests(session, subscriber_id=subscriber.id)
        ]
    lines = []
    for r in rows:
        share = f" (share {r['share']:g})" if r["share"] is not None else ""
        topics = ", ".join(topic_label(t["kind"], t["text"], t["weight"]) for t in r["topics"])
        likes = f"; {counted(len(r['likes']), 'liked paper')}" if r["likes"] else ""
        lines.append(f"{r['position']}. {r['name']}{share}: {topics or 'no topics'}{likes}")
    emit(rows, as_json, "\n".join(lines) or f"{address} has no interests")


@interests.command("remove")
@click.argument("email")
@click.argument("name")
@click.pass_context
def interests_remove(ctx: click.Context, email: str, name: str) -> None:
    """Remove the interest NAME with its topics and liked papers."""
    from service.storage import store
    from service.storage.engine import session_scope

    address = parse_email(email)
    runtime = runtime_from(ctx)
    with session_scope(runtime.factory) as session:
        subscriber = _subscriber_or_fail(session, address)
        interest = _interest_or_fail(session, subscriber, name)
        removed = interest.name
        store.remove_interest(session, subscriber=subscriber, interest=interest)
    click.echo(f"removed interest {removed!r} from {address}")


@interests.command("rename")
@click.argument("email")
@click.argument("old")
@click.argument("new")
@click.pass_context
def interests_rename(ctx: click.Context, email: str, old: str, new: str) -> None:
    """Rename the interest OLD to NEW."""
    from service.storage import store
    from service.storage.engine import session_scope

    address = parse_email(email)
    runtime = runtime_from(ctx)
    try:
        with session_scope(runtime.factory) as session:
            subscriber = _subscriber_or_fail(session, address)
            interest = _interest_or_fail(session, subscriber, old)
            store.rename_interest(session, subscriber_id=subscriber.id, interest=interest, name=new)
            renamed = interest.name
    except InputError as exc:
        fail(str(exc), 2)
    click.echo(f"renamed interest {old!r} to {renamed!r} for {address}")


@interests.command("move")
@click.argument("email")
@click.argument("name")
@click.argument("direction", type=click.Choice(["up", "down"]))
@click.pass_context
def interests_move(ctx: click.Context, email: str, name: str, direction: str) -> None:
    """Move the interest NAME up or down (its section's place in the digest)."""
    from service.storage import store
    from service.storage.engine import session_scope

    address = parse_email(email)
    runtime = runtime_from(ctx)
    with session_scope(runtime.factory) as session:
        subscriber = _subscriber_or_fail(session, address)
        interest = _interest_or_fail(session, subscriber, name)
        label = interest.name
        moved = store.move_interest(
            session,
            subscriber_id=subscriber.id,
            interest=interest,
            by=-1 if direction == "up" else 1,
        )
    end = "top" if direction == "up" else "bottom"
    click.echo(
        f"moved interest {label!r} {direction}"
        if moved
        else f"interest {label!r} is already at the {end}"
    )
