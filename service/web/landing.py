"""The landing page (today's trending papers, the subscribe form) and the subscribe request."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from service import logs
from service.delivery.runtime import Runtime
from service.digest.confirm_mail import ConfirmationMail
from service.errors import InputError
from service.settings import Settings
from service.storage import store
from service.subscribers.subscriptions import (
    MAX_TOPICS,
    OpenConfirmation,
    parse_subscribe_form,
    request_subscription,
)
from service.subscribers.suggest import suggest_topics
from service.subscribers.tokens import LIFETIME, Signer, TokenError
from service.web.deps import (
    ClientIpDep,
    Clock,
    ClockDep,
    ConfirmationMailDep,
    PagesDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    SignerDep,
    SubscribeLimitDep,
)
from service.web.pages import Pages

log = logs.get_logger(__name__)

TRENDING_WINDOW = dt.timedelta(days=2)
SUGGESTION_DAYS = 14
TOPIC_FIELDS = 3
FORM_COOKIE = "paperboy_form"
FORM_COOKIE_MAX = 3_500  # bytes: browsers keep cookies up to 4 KB


@lru_cache(maxsize=1)
def timezones() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


router = APIRouter()


def landing(
    request: Request,
    session: Session,
    settings: Settings,
    pages: Pages,
    now: dt.datetime,
    *,
    form: dict[str, object] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    status_code: int = 200,
) -> Response:
    papers = store.trending_papers(session, window=TRENDING_WINDOW, limit=30)
    total = store.count_papers(session)
    terms = store.recent_paper_terms(session, since=now - dt.timedelta(days=SUGGESTION_DAYS))
    values = {
        "email": "", "topics": [""] * TOPIC_FIELDS, "timezone": settings.default_timezone,
        "hour": settings.default_hour, "cadence": "daily",
    }  # fmt: skip
    values.update(form or {})
    context = {
        "papers": papers, "total": total, "suggestions": suggest_topics(terms), "timezones": timezones(),
        "form": values, "error": error, "error_field": error_field,
    }  # fmt: skip
    return pages.page(request, "index.html", context, status_code=status_code, form=True)


@router.get("/")
def index(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    signer: SignerDep,
    pages: PagesDep,
    clock: ClockDep,
) -> Response:
    refused = request.cookies.get(FORM_COOKIE)
    if not refused:
        return landing(request, session, settings, pages, clock())
    try:
        carried = signer.read("form", refused)
        response = landing(
            request, session, settings, pages, clock(), form=carried["form"],
            error=str(carried["error"]), error_field=carried.get("field"),
        )  # fmt: skip
    except (TokenError, KeyError, TypeError):
        response = landing(request, session, settings, pages, clock())
    response.delete_cookie(FORM_COOKIE, path="/")  # shown once: a reload shows a fresh form
    return response


def back_to_form(
    request: Request, signer: Signer, form: dict[str, object], error: InputError
) -> Response:
    """Post/Redirect/Get: 303 to the form, its values and error in a short-lived signed cookie,
    so reloading the page never posts the form again."""
    short = {k: v[:320] if isinstance(v, str) else v for k, v in form.items()}
    message = str(error)[:300]
    carried = signer.make("form", form=short, error=message, field=error.field)
    if len(carried) > FORM_COOKIE_MAX:  # a wall of topics: keep the rest
        short["topics"] = [""] * TOPIC_FIELDS
        carried = signer.make("form", form=short, error=message, field=error.field)
    response = RedirectResponse("/#subscribe", status_code=303)
    response.set_cookie(
        FORM_COOKIE, carried, max_age=LIFETIME["form"], path="/", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


def send_confirmation(
    confirmation: OpenConfirmation, runtime: Runtime, mail: ConfirmationMail, clock: Clock
) -> None:
    # Runs after the response went out: the answer takes the same time whatever the address.
    try:
        message = mail.build(confirmation, now=clock())
        with runtime.mailer() as mailer:
            mailer.send(message)
    except Exception as exc:
        log.error(
            "confirmation_mail_failed", subscriber_id=confirmation.subscriber_id, error=str(exc)
        )
        return
    log.info(
        "confirmation_mail_sent",
        subscriber_id=confirmation.subscriber_id,
        existing=confirmation.was_active,
    )


@router.post("/subscribe")
def subscribe(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    runtime: RuntimeDep,
    pages: PagesDep,
    clock: ClockDep,
    ip: ClientIpDep,
    limit: SubscribeLimitDep,
    mail: ConfirmationMailDep,
    email: str = Form(""),
    topic: Annotated[list[str] | None, Form()] = None,
    timezone: str = Form(""),
    hour: str = Form(""),
    cadence: str = Form("daily"),
    website: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    if not pages.csrf.valid(request, csrf_token):
        log.warning("subscribe_refused", reason="csrf")
        return pages.forbidden_form(request)
    if not limit.allow(ip, clock().timestamp()):
        log.warning("subscribe_refused", reason="ip_rate_limit")
        return pages.message(
            request, "Too many requests", "Too many subscribe requests from your network. Try again in an hour.",
            status_code=429,
        )  # fmt: skip
    if website:
        # The honeypot: a field people never see. Bots get the usual answer and nothing happens.
        log.warning("subscribe_refused", reason="honeypot")
        return inbox(request, pages)
    topic = topic or []
    topics = (topic + [""] * TOPIC_FIELDS)[: max(TOPIC_FIELDS, len(topic))]
    try:
        wanted = parse_subscribe_form(
            email=email, topics=topic, timezone=timezone, hour=hour, cadence=cadence
        )
    except InputError as exc:
        form = {
            "email": email,
            "topics": [t[:200] for t in topics[:MAX_TOPICS]],
            "timezone": timezone,
            "hour": hour,
            "cadence": cadence,
        }
        return back_to_form(request, runtime.signer, form, exc)
    now = clock()
    settings = runtime.settings
    confirmation = request_subscription(
        session, request=wanted, max_papers=settings.default_max_papers, now=now,
        interval=dt.timedelta(seconds=settings.confirm_mail_interval_seconds),
    )  # fmt: skip
    session.commit()
    if confirmation is None:
        log.info("subscribe_throttled", reason="address_interval")
    else:
        background.add_task(send_confirmation, confirmation, runtime, mail, clock)
    return inbox(request, pages)


def inbox(request: Request, pages: Pages) -> Response:
    # The same page, byte for byte, for a new, pending, active or unsubscribed address.
    return pages.page(request, "inbox.html")
