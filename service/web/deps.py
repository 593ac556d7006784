"""What a route handler needs, as FastAPI dependencies: the runtime, settings, signer, pages,
clock, client address, subscribe limit and a database session.

``install`` (called by ``create_app``) puts the shared objects on ``app.state``; the functions
below read them from ``request.app.state``, and a handler names what it needs with the
``Annotated`` aliases (``SessionDep``, ``SettingsDep``, ``ClockDep``, ...). A test may replace any
of them through ``app.dependency_overrides``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session

from service.delivery.runtime import Runtime
from service.digest.confirm_mail import ConfirmationMail
from service.resources import templates_dir
from service.settings import Settings
from service.subscribers.tokens import Signer
from service.web.csrf import Csrf
from service.web.pages import Pages
from service.web.ratelimit import DatabaseWindow

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def install(app: FastAPI, runtime: Runtime, *, clock: Clock = utcnow) -> None:
    """Build what the handlers share, once per app, and keep it on ``app.state``."""
    settings = runtime.settings
    app.state.runtime = runtime
    app.state.clock = clock
    app.state.pages = Pages(Csrf(runtime.signer))
    app.state.subscribe_limit = DatabaseWindow(
        runtime.factory,
        limit=settings.subscribe_limit_per_ip,
        seconds=3600,
        secret=settings.secret_key,
    )
    app.state.confirmation_mail = ConfirmationMail(
        templates_dir(), settings=settings, signer=runtime.signer
    )


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_signer(runtime: RuntimeDep) -> Signer:
    return runtime.signer


SignerDep = Annotated[Signer, Depends(get_signer)]


def get_clock(request: Request) -> Clock:
    """The clock itself (a handler may read it more than once, and after its answer went out)."""
    return request.app.state.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def get_pages(request: Request) -> Pages:
    return request.app.state.pages


PagesDep = Annotated[Pages, Depends(get_pages)]


def get_client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientIpDep = Annotated[str, Depends(get_client_ip)]


def get_subscribe_limit(request: Request) -> DatabaseWindow:
    return request.app.state.subscribe_limit


SubscribeLimitDep = Annotated[DatabaseWindow, Depends(get_subscribe_limit)]


def get_confirmation_mail(request: Request) -> ConfirmationMail:
    return request.app.state.confirmation_mail


ConfirmationMailDep = Annotated[ConfirmationMail, Depends(get_confirmation_mail)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A database session for the request, closed after it. The handler commits its writes itself,
    before it answers; whatever it did not commit (it failed midway) is rolled back on close."""
    session = runtime.factory()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
