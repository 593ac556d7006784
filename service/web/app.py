"""The FastAPI application: assembles the route modules of ``service/web/``.

Each module has a module-level ``router`` (an ``APIRouter``); its handlers get the runtime,
settings, pages, clock and a database session through the dependencies of ``deps.py``, which read
what ``create_app`` put on ``app.state``. Every response carries the security headers below.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from service import logs
from service.delivery.runtime import Runtime
from service.resources import templates_dir
from service.web import (
    archive,
    bounces,
    confirm,
    feedback,
    landing,
    manage,
    manage_interests,
    manage_likes,
    ops,
    steer,
    unsubscribe,
)
from service.web.deps import install, utcnow
from service.web.links import redact_paths

log = logs.get_logger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

# Production is served over HTTPS (deploy/README.md): browsers keep to it for a year.
HSTS = "max-age=31536000"


ERROR_PAGES = {
    404: (
        "Page not found",
        "There is no page at this address. If you followed a link from an email, use the newest "
        "email: each one carries fresh links.",
    ),
    405: ("Page not found", "This address does not take that kind of request."),
    500: (
        "Something went wrong",
        "The server could not finish this request. Nothing you did caused it; please try again "
        "in a few minutes.",
    ),
}


class RedactTokens(logging.Filter):
    """Access log lines never show the signed token of a personal link."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_paths(a) if isinstance(a, str) else a for a in record.args)
        return True


def relative_slash_redirect(request: Request, response: Response) -> None:
    """Starlette's redirect between ``/path/`` and ``/path`` names the Host header's host; make it
    a relative one, so a forged Host never becomes a link to another site."""
    location = response.headers.get("location", "")
    if response.status_code not in (307, 308) or "://" not in location:
        return
    target = urlsplit(location)
    if target.path.rstrip("/") != request.url.path.rstrip("/"):
        return  # not the slash redirect
    path = "/" + target.path.lstrip("/")  # never //host: that would be another site again
    response.headers["location"] = path + (f"?{target.query}" if target.query else "")


class Background(Protocol):
    """Jobs the app runs beside itself while it serves: the ingest and delivery ticks, which the
    command line builds (service/delivery/scheduler.py, an APScheduler BackgroundScheduler)."""

    def start(self) -> None: ...

    def get_jobs(self) -> list[Any]: ...  # each with an ``id``

    def shutdown(self, wait: bool = True) -> None: ...


def create_app(
    runtime: Runtime,
    *,
    background: Background | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> FastAPI:
    """The web app; with ``background`` it also runs those jobs (the ingest and delivery ticks)
    in-process, from start-up until shutdown."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs = background
        if jobs is not None:
            jobs.start()
            log.info("scheduler_started", jobs=",".join(j.id for j in jobs.get_jobs()))
        try:
            yield
        finally:
            if jobs is not None:
                runtime.stopping.set()  # a running send finishes its messages in flight, leaves the rest
                jobs.shutdown(wait=True)

    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())

    app = FastAPI(
        title="Paperboy", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.mount(
        "/static", StaticFiles(directory=str(templates_dir() / "web" / "static")), name="static"
    )

    headers = dict(SECURITY_HEADERS)
    if runtime.settings.env == "production":
        headers["Strict-Transport-Security"] = HSTS

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        relative_slash_redirect(request, response)
        return response

    install(app, runtime, clock=clock)

    def error_page(request: Request, status_code: int, detail: str) -> Response:
        """A branded page for a browser, JSON for an API client."""
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": detail}, status_code=status_code)
        title, message = ERROR_PAGES.get(status_code, (detail, ""))
        context = {"title": title, "message": message, "status": status_code}
        return app.state.pages.page(request, "error.html", context, status_code=status_code)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        response = error_page(request, exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # Starlette answers this outside every middleware: the security headers are set here.
        # (The server logs the traceback too: Starlette re-raises after this answer.)
        log.error("request_failed", path=redact_paths(request.url.path), error=str(exc))
        try:
            response = error_page(request, 500, "Internal Server Error")
        except Exception:  # the page itself failed: plain words
            response = PlainTextResponse("Internal Server Error", status_code=500)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    for module in (
        landing,
        confirm,
        manage,
        manage_interests,
        manage_likes,
        unsubscribe,
        feedback,
        steer,
        archive,
        ops,
        bounces,
    ):
        app.include_router(module.router)
    return app
