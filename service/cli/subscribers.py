"""The ``paperboy subscribers`` commands: add, list, remove and unsuppress subscribers."""

from __future__ import annotations

from typing import Any

import click

from service.cli.common import emit, fail, parse_email, runtime_from
from service.errors import InputError
from service.logs import get_logger
from service.statuses import SUBSCRIBER_STATUSES
from service.words import counted


@click.group()
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
    address = parse_email(email)
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

    from service.storage import store
    from service.storage.engine import session_scope

    runtime = runtime_from(ctx)
    address = parse_email(email)
    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email=address)
        if subscriber is None:
            fail(f"no subscriber {address}", 2)
        reason = subscriber.suppressed_reason
        was = store.unsuppress_subscriber(session, email=address)
        subscriber_id = subscriber.id
    if was is None:
        fail(f"{address} is not suppressed ({subscriber.status})", 2)
    get_logger(__name__).warning(
        "subscriber_unsuppressed", subscriber_id=subscriber_id, was=was, reason=reason, by="cli"
    )
    click.echo(f"unsuppressed {address} (was {was}): now unsubscribed; it may subscribe again")
