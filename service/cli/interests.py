"""The ``paperboy interests`` commands: a subscriber's named interests (add, list, remove, rename,
move), each with its own topics and share of the digest."""

from __future__ import annotations

import sys
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


def _liked_paper_files(command: Any) -> Any:
    """The --bibtex and --zotero options of the commands that seed an interest."""
    command = click.option(
        "--zotero", "zotero", multiple=True, type=click.Path(),
        help="Liked papers from a Zotero CSL JSON export.",
    )(command)  # fmt: skip
    return click.option(
        "--bibtex",
        "bibtex",
        multiple=True,
        type=click.Path(),
        help="Liked papers from a .bib file.",
    )(command)


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
@click.option(
    "--like", "likes", multiple=True, help="A paper you like: arXiv id or URL (repeatable)."
)
@_liked_paper_files
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def interests_add(
    ctx: click.Context, email: str, name: str, topics: tuple[str, ...], excludes: tuple[str, ...],
    share: float | None, likes: tuple[str, ...], bibtex: tuple[str, ...],
    zotero: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Add an interest NAME to the subscriber EMAIL (at most 20 interests), from topics and/or
    papers they like (arXiv ids or URLs, a BibTeX file, a Zotero CSL JSON export)."""
    from service.ledger.ingest import utcnow
    from service.storage import store
    from service.storage.engine import session_scope

    address = parse_email(email)
    try:
        parsed = _parse(topics, excludes)
        liked = _read_liked(likes, bibtex, zotero)
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
            subscriber_id, interest_id = subscriber.id, interest.id
    except InputError as exc:
        fail(str(exc), 2)
    human = f"added interest {data['name']!r} to {address} ({counted(len(parsed), 'topic')})"
    if liked is not None:
        report = _seed(runtime, subscriber_id, interest_id, liked)
        data["seeded"] = report.as_dict()
        human += "\n" + _seed_text(report)
    emit(data, as_json, human)
    if liked is not None and data["seeded"].get("error"):
        sys.exit(1)


@interests.command("like")
@click.argument("email")
@click.argument("name")
@click.argument("papers", nargs=-1)
@_liked_paper_files
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def interests_like(
    ctx: click.Context, email: str, name: str, papers: tuple[str, ...], bibtex: tuple[str, ...],
    zotero: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Strengthen the interest NAME with papers the subscriber likes: arXiv ids or URLs (PAPERS),
    a BibTeX file, a Zotero CSL JSON export. Papers the ledger lacks are looked up on arXiv."""
    from service.storage.engine import session_scope

    address = parse_email(email)
    try:
        liked = _read_liked(papers, bibtex, zotero)
    except InputError as exc:
        fail(str(exc), 2)
    if liked is None:
        fail("give arXiv ids or URLs, --bibtex FILE or --zotero FILE", 2)
    runtime = runtime_from(ctx)
    with session_scope(runtime.factory) as session:
        subscriber = _subscriber_or_fail(session, address)
        interest = _interest_or_fail(session, subscriber, name)
        subscriber_id, interest_id = subscriber.id, interest.id
    report = _seed(runtime, subscriber_id, interest_id, liked)
    emit(report.as_dict(), as_json, _seed_text(report))
    if report.error:
        sys.exit(1)  # arXiv could not be asked: the papers it would have found are not in


def _read_liked(ids: tuple[str, ...], bibtex: tuple[str, ...], zotero: tuple[str, ...]) -> Any:
    """The liked papers given, None when none were; InputError naming a bad file or id."""
    from service.delivery.seeding import read_liked
    from service.subscribers.liked_papers import MAX_FILE_BYTES

    if not (ids or bibtex or zotero):
        return None
    files = []
    for option, paths in (("--bibtex", bibtex), ("--zotero", zotero)):
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    files.append((path, handle.read(MAX_FILE_BYTES + 1)))
            except OSError as exc:
                raise InputError(f"{option} {path}: {exc.strerror or exc}") from None
    liked = read_liked(ids, files)
    if not liked.papers:
        reasons = "; ".join(liked.rejected[:5]) or "nothing given"
        raise InputError(f"no arXiv papers found in what was given: {reasons}")
    return liked


def _seed(runtime: Any, subscriber_id: int, interest_id: int, liked: Any) -> Any:
    from service.delivery.seeding import seed_interest
    from service.ledger import source_runs

    try:
        with source_runs.make_fetcher(runtime.settings) as fetcher:
            return seed_interest(
                runtime.factory, settings=runtime.settings, fetcher=fetcher,
                subscriber_id=subscriber_id, interest_id=interest_id, liked=liked,
            )  # fmt: skip
    except InputError as exc:
        fail(str(exc), 2)


def _seed_text(report: Any) -> str:
    lines = [report.summary()]
    lines += [f"  rejected: {reason}" for reason in report.rejected]
    if report.error:
        lines.append(f"  arXiv look-up failed: {report.error}")
    return "\n".join(lines)


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
