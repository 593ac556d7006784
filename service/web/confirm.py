"""``/confirm/{token}``: the GET shows what will happen and a button; only the POST changes state
(mail scanners fetch every link in a message)."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from service import logs
from service.delivery.due import next_digest_for
from service.digest.confirm_mail import describe
from service.storage import store
from service.subscribers.tokens import Signer, TokenError
from service.web.deps import ClientIpDep, ClockDep, PagesDep, SessionDep, SettingsDep, SignerDep
from service.web.links import id_in

log = logs.get_logger(__name__)


def first_digest_words(
    *, moment: dt.datetime, now: dt.datetime, timezone: str, cadence: str, tick_seconds: int
) -> str:
    """Pure: when the first digest goes out, for people ("tomorrow, 07:00 Europe/Berlin; then
    every Thursday"). ``moment`` is ``now`` when a digest is due already: the next delivery tick
    sends it."""
    zone = zoneinfo.ZoneInfo(timezone)
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    if moment <= now:
        when = f"today, within the next {math.ceil(tick_seconds / 60)} minutes"
    else:
        days = (local.date() - today).days
        day = {0: "today", 1: "tomorrow"}.get(days, f"{local:%A} {local.day} {local:%B}")
        when = f"{day}, {local:%H:%M} {timezone}"
    return f"{when}; then every {local:%A}" if cadence == "weekly" else when


router = APIRouter()


def open_confirmation(
    session: Session, signer: Signer, token: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(token payload, page facts) of a confirmation still open; TokenError otherwise."""
    payload = signer.read("confirm", token)
    subscriber = store.get_subscriber_by_id(session, subscriber_id=id_in(payload))
    if (
        subscriber is None
        or not subscriber.confirm_nonce
        or subscriber.confirm_nonce != payload.get("n")
    ):
        raise TokenError("this link was already used or a newer one was sent")
    facts = {
        "was_active": subscriber.status in ("active", "paused"),
        "current": [
            t.text if t.kind == "keyword" else f"{t.kind}: {t.text}" for t in subscriber.topics
        ],
        **describe(subscriber.confirm_requested or {}),
    }
    return payload, facts


@router.get("/confirm/{token}")
def confirm_page(
    request: Request, token: str, session: SessionDep, signer: SignerDep, pages: PagesDep
) -> Response:
    try:
        _payload, facts = open_confirmation(session, signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    return pages.page(request, "confirm.html", {"token": token, **facts}, form=True)


@router.post("/confirm/{token}")
def confirm(
    request: Request,
    token: str,
    session: SessionDep,
    signer: SignerDep,
    settings: SettingsDep,
    pages: PagesDep,
    clock: ClockDep,
    ip: ClientIpDep,
    csrf_token: str = Form(""),
) -> Response:
    if not pages.csrf.valid(request, csrf_token):
        return pages.forbidden_form(request)
    try:
        payload, _facts = open_confirmation(session, signer, token)
    except TokenError as exc:
        return pages.bad_link(request, str(exc))
    session.expunge_all()  # what the check read; the confirmation reads the row afresh
    subscriber_id = id_in(payload)
    subscriber = store.confirm_subscriber(
        session, subscriber_id=subscriber_id, nonce=str(payload["n"]), now=clock(), ip=ip
    )
    first = None
    if subscriber is not None:
        now = clock()
        _date, moment = next_digest_for(session, settings=settings, subscriber=subscriber, now=now)
        first = first_digest_words(
            moment=moment,
            now=now,
            timezone=subscriber.timezone,
            cadence=subscriber.cadence,
            tick_seconds=settings.delivery_interval_seconds,
        )
    session.commit()
    if subscriber is None:  # a second click racing the first
        return pages.bad_link(request, "this link was already used or a newer one was sent")
    log.info("subscription_confirmed", subscriber_id=subscriber_id)
    manage = signer.make("manage", s=subscriber_id)
    return pages.page(
        request, "confirmed.html", {"manage_url": f"/manage/{manage}", "first": first}
    )
