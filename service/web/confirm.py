"""``/confirm/{token}``: the GET shows what will happen and a button; only the POST changes state
(mail scanners fetch every link in a message)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import zoneinfo
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from service.delivery.due import next_digest_for
from service.digest.confirm_mail import describe
from service.storage import store
from service.storage.engine import session_scope
from service.subscribers.tokens import TokenError
from service.web.context import Web, client_ip, id_in

log = logging.getLogger(__name__)


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


def router(web: Web) -> APIRouter:
    api = APIRouter()

    def open_confirmation(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(token payload, page facts) of a confirmation still open; TokenError otherwise."""
        payload = web.runtime.signer.read("confirm", token)
        with session_scope(web.runtime.factory) as session:
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
                    t.text if t.kind == "keyword" else f"{t.kind}: {t.text}"
                    for t in subscriber.topics
                ],
                **describe(subscriber.confirm_requested or {}),
            }
        return payload, facts

    @api.get("/confirm/{token}")
    def confirm_page(request: Request, token: str) -> Response:
        try:
            _payload, facts = open_confirmation(token)
        except TokenError as exc:
            return web.bad_link(request, str(exc))
        return web.page(request, "confirm.html", {"token": token, **facts}, form=True)

    @api.post("/confirm/{token}")
    def confirm(request: Request, token: str, csrf_token: str = Form("")) -> Response:
        if not web.csrf.valid(request, csrf_token):
            return web.forbidden_form(request)
        try:
            payload, _facts = open_confirmation(token)
        except TokenError as exc:
            return web.bad_link(request, str(exc))
        subscriber_id = id_in(payload)
        with session_scope(web.runtime.factory) as session:
            subscriber = store.confirm_subscriber(
                session,
                subscriber_id=subscriber_id,
                nonce=str(payload["n"]),
                now=web.clock(),
                ip=client_ip(request),
            )
            first = None
            if subscriber is not None:
                now = web.clock()
                _date, moment = next_digest_for(
                    session, settings=web.settings, subscriber=subscriber, now=now
                )
                first = first_digest_words(
                    moment=moment,
                    now=now,
                    timezone=subscriber.timezone,
                    cadence=subscriber.cadence,
                    tick_seconds=web.settings.delivery_interval_seconds,
                )
        if subscriber is None:  # a second click racing the first
            return web.bad_link(request, "this link was already used or a newer one was sent")
        log.info("subscription_confirmed subscriber_id=%s", subscriber_id)
        manage = web.runtime.signer.make("manage", s=subscriber_id)
        return web.page(
            request, "confirmed.html", {"manage_url": f"/manage/{manage}", "first": first}
        )

    return api
