"""The ``paperboy preview`` command: render a subscriber's next digest without sending it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from service.cli.common import emit, fail, parse_date, parse_email, runtime_from
from service.errors import PaperboyError


@click.command()
@click.argument("email")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the HTML here (a name ending .eml writes the message, as --eml).",
)
@click.option(
    "--eml",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the whole message here, byte for byte as it would be sent.",
)
@click.option("--date", "date_text", default=None, help="Digest date YYYY-MM-DD.")
@click.option(
    "--json", "as_json", is_flag=True, help="List the chosen papers with scores and reasons."
)
@click.pass_context
def preview(
    ctx: click.Context,
    email: str,
    out: Path | None,
    eml: Path | None,
    date_text: str | None,
    as_json: bool,
) -> None:
    """Render EMAIL's next digest without sending it."""
    from service.delivery.selection import preview as build_preview
    from service.digest.message import build_message, wire_bytes
    from service.ledger.ingest import utcnow

    if out is not None and out.suffix.lower() == ".eml":  # the older spelling of --eml
        if eml is not None:
            fail("give the message file once: --eml, or --out with a .eml name", 2)
        out, eml = None, out
    runtime = runtime_from(ctx)
    try:
        digest, rendered = build_preview(
            runtime.pipeline,
            email=parse_email(email),
            now=utcnow(),
            digest_date=parse_date(date_text),
        )
    except PaperboyError as exc:
        fail(str(exc), 2)
    only = _only_interest(runtime, digest.email)
    written: list[Path] = []
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered.html, encoding="utf-8")
        written.append(out)
    if eml is not None:
        settings = runtime.settings
        message = build_message(
            rendered, to=digest.email, from_addr=settings.from_address, base_url=settings.base_url,
            unsubscribe_url=digest.links.unsubscribe, list_id=f"digest.{settings.list_domain}",
            reply_to=settings.reply_to, unsubscribe_mailto=settings.list_unsubscribe_mailto,
        )  # fmt: skip
        eml.parent.mkdir(parents=True, exist_ok=True)
        eml.write_bytes(wire_bytes(message))
        written.append(eml)
    data = {
        "email": digest.email,
        "digest_date": digest.digest_date.isoformat(),
        "subject": rendered.subject,
        "papers": [
            {
                "title": p.paper.title,
                "key": p.paper.key,
                "id": p.paper.paper_id,
                "arxiv_id": p.paper.arxiv_id,
                "score": p.score,
                "interest": p.interest or only,
                "reasons": [r.label for r in p.reasons],
                "matches": [
                    {"topic": r.topic, "terms": list(r.terms)}
                    for r in p.reasons
                    if r.topic is not None
                ],
                "upvotes": p.paper.upvotes,
                "url": p.paper.abstract_url,
            }
            for p in digest.papers
        ],
    }
    human = (
        rendered.subject
        + "\n"
        + "\n".join(
            f"{i}. {p.paper.title} [{p.score:.2f}] — {'; '.join(r.label for r in p.reasons)}"
            for i, p in enumerate(digest.papers, start=1)
        )
    )
    for path in written:
        human += f"\nwritten to {path}"
    emit(data, as_json, human if not as_json else "")


def _only_interest(runtime: Any, email: str) -> str | None:
    """The name of the subscriber's interest when they have just one (their picks carry none)."""
    from service.storage import store
    from service.storage.engine import session_scope

    with session_scope(runtime.factory) as session:
        subscriber = store.get_subscriber(session, email=email)
        if subscriber is None:
            return None
        rows = store.list_interests(session, subscriber_id=subscriber.id)
    return rows[0].name if len(rows) == 1 else None
