"""The FastAPI application: landing page, health check and the unsubscribe links of emails."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import text

from service import store
from service.db import session_scope
from service.resources import templates_dir
from service.runtime import Runtime
from service.tokens import TokenError
from service.web.bounces import bounce_routes

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(runtime: Runtime, *, scheduler: bool = False) -> FastAPI:
    """The web app; with ``scheduler`` it also runs the ingest and delivery jobs in-process."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs = None
        if scheduler:
            from service.scheduler import build_scheduler

            jobs = build_scheduler(runtime)
            jobs.start()
            log.info("scheduler_started jobs=%s", ",".join(j.id for j in jobs.get_jobs()))
        try:
            yield
        finally:
            if jobs is not None:
                jobs.shutdown(wait=False)

    app = FastAPI(title="Paperboy", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    pages = Jinja2Templates(directory=str(templates_dir() / "web"))
    app.mount("/static", StaticFiles(directory=str(templates_dir() / "web" / "static")), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        with session_scope(runtime.factory) as session:
            papers = store.latest_papers(session, limit=30)
            total = store.count_papers(session)
        return pages.TemplateResponse(request, "index.html", {"papers": papers, "total": total})

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # the probe must answer, not crash
            log.error("healthz_failed error=%r", str(exc))
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    def _unsubscribe(token: str) -> bool:
        payload = runtime.signer.read("unsubscribe", token)
        with session_scope(runtime.factory) as session:
            return store.set_subscriber_status(session, subscriber_id=int(payload["s"]), status="unsubscribed")

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(request: Request, token: str) -> Response:
        # A GET never changes anything: mail scanners follow links.
        try:
            runtime.signer.read("unsubscribe", token)
        except TokenError as exc:
            return pages.TemplateResponse(request, "message.html", {"title": "Link not valid", "message": str(exc)}, status_code=400)
        return pages.TemplateResponse(request, "unsubscribe.html", {"token": token, "done": False})

    @app.post("/unsubscribe/{token}")
    async def unsubscribe(request: Request, token: str) -> Response:
        """RFC 8058 one-click (and the page's button): idempotent, no cookies, no redirect."""
        try:
            changed = _unsubscribe(token)
        except TokenError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        if changed:
            log.info("unsubscribed via=link")
        if "text/html" in request.headers.get("accept", ""):
            return pages.TemplateResponse(request, "unsubscribe.html", {"token": token, "done": True})
        return PlainTextResponse("You are unsubscribed.")

    app.include_router(bounce_routes(runtime))  # POST /webhooks/bounces (issue 6)
    return app
