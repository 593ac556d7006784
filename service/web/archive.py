"""``/archive/{token}`` (a manage link) lists the subscriber's past digests; ``/feed/{token}.atom``
(a feed link, long-lived and read-only) is the same as an Atom feed, one entry per digest."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator
from markupsafe import escape
from sqlalchemy.orm import Session

from service.digest.text import safe_url
from service.storage import store
from service.subscribers.paper_links import digest_token, feedback_url
from service.subscribers.tokens import TokenError
from service.web.deps import ClockDep, PagesDep, SessionDep, SettingsDep, SignerDep
from service.web.links import id_in

LIMIT = 60


def atom_feed(
    *, digests: list[Any], feed_url: str, site_url: str, updated: dt.datetime, title: str = ""
) -> bytes:
    """The Atom document of these digests (newest first), one entry per digest listing its
    papers, in a section per interest when the reader had several."""
    fg = FeedGenerator()
    fg.id(feed_url)
    fg.title(f"Your Paperboy digests: {title}" if title else "Your Paperboy digests")
    fg.link(href=feed_url, rel="self", type="application/atom+xml")
    fg.link(href=site_url, rel="alternate")
    fg.author({"name": "Paperboy"})
    fg.updated(max((d.sent_at or updated for d, _ in digests), default=updated))
    for delivery, items in reversed(digests):  # feedgen prepends: add oldest first
        entry = fg.add_entry()
        entry.id(f"{feed_url}#{delivery.digest_date.isoformat()}")
        entry.title(f"Papers for {delivery.digest_date:%A %d %B %Y} ({len(items)})")
        entry.updated(delivery.sent_at or updated)
        entry.published(delivery.sent_at or updated)
        lines = []
        for item, paper in items:
            url = safe_url(paper.abstract_url)
            reasons = "; ".join(item.reasons or ())
            lines.append((paper.title, url, reasons, item.interest or ""))
        entry.content(_entry_html(lines), type="html")
        if items and safe_url(items[0][1].abstract_url):
            entry.link(href=safe_url(items[0][1].abstract_url), rel="alternate")
    return fg.atom_str(pretty=True)


def _entry_html(lines: list[tuple[str, str, str, str]]) -> str:
    parts = ["<ol>"]
    section = ""
    for title, url, reasons, interest in lines:
        if interest and interest != section:
            parts.append(f"</ol><h3>{escape(interest)}</h3><ol>")
            section = interest
        name = f'<a href="{escape(url)}">{escape(title)}</a>' if url else str(escape(title))
        parts.append(
            f"<li>{name}" + (f"<br><small>{escape(reasons)}</small>" if reasons else "") + "</li>"
        )
    parts.append("</ol>")
    return "".join(parts)


router = APIRouter()


def digests_of(session: Session, subscriber_id: int) -> list[Any]:
    if store.get_subscriber_by_id(session, subscriber_id=subscriber_id) is None:
        raise TokenError("this subscription no longer exists")
    return store.sent_digests(session, subscriber_id=subscriber_id, limit=LIMIT)


@router.get("/archive/{token}")
def archive(
    request: Request, token: str, session: SessionDep, signer: SignerDep, pages: PagesDep
) -> Response:
    try:
        subscriber_id = id_in(signer.read("manage", token))
        digests = digests_of(session, subscriber_id)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    feed = signer.make("feed", s=subscriber_id)
    ids = store.interest_ids(session, subscriber_id=subscriber_id)
    digest = digest_token(signer, subscriber_id)  # one signature for every paper's link
    more = {  # (digest, paper id) -> its "more like this" link, naming the interest
        (delivery.id, paper.paper_id): feedback_url(
            "", digest, paper.paper_id, 1, ids.get(item.interest) if item.interest else None
        )
        for delivery, items in digests
        for item, paper in items
    }
    return pages.page(
        request,
        "archive.html",
        {"digests": digests, "token": token, "feed_url": f"/feed/{feed}.atom", "more": more},
    )


@router.get("/feed/{token}.atom")
def feed(
    token: str, session: SessionDep, signer: SignerDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    try:
        payload = signer.read("feed", token)
        subscriber_id = id_in(payload)
        digests = digests_of(session, subscriber_id)
        title = ""
        if "i" in payload:  # the feed of one interest: its papers only
            interest = store.get_interest_by_id(
                session, subscriber_id=subscriber_id, interest_id=id_in(payload, "i")
            )
            if interest is None:
                raise TokenError("this interest no longer exists")
            title = interest.name
            digests = [
                (delivery, [(item, paper) for item, paper in items if item.interest == title])
                for delivery, items in digests
            ]
            digests = [(delivery, items) for delivery, items in digests if items]
    except TokenError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    base = settings.base_url
    body = atom_feed(
        digests=digests,
        feed_url=f"{base}/feed/{token}.atom",
        site_url=base,
        updated=clock(),
        title=title,
    )
    return Response(
        body,
        media_type="application/atom+xml",
        headers={"Cache-Control": "private, max-age=300"},
    )
