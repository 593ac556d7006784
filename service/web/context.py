"""What every route module shares: the runtime, the page templates, CSRF, the clock."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from service.delivery.runtime import Runtime
from service.digest.text import safe_url
from service.resources import templates_dir
from service.subscribers.tokens import TokenError
from service.web.csrf import Csrf
from service.web.ratelimit import DatabaseWindow


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Web:
    runtime: Runtime
    clock: Callable[[], dt.datetime] = utcnow
    templates: Jinja2Templates = field(init=False)
    csrf: Csrf = field(init=False)
    subscribe_limit: DatabaseWindow = field(init=False)

    def __post_init__(self) -> None:
        self.templates = Jinja2Templates(directory=str(templates_dir() / "web"))
        # Paper links come from sources: only an absolute http(s) URL becomes a link.
        self.templates.env.filters["safe_url"] = safe_url
        self.csrf = Csrf(self.runtime.signer)
        self.subscribe_limit = DatabaseWindow(
            self.runtime.factory,
            limit=self.runtime.settings.subscribe_limit_per_ip,
            seconds=3600,
            secret=self.runtime.settings.secret_key,
        )

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        return self.runtime.settings

    def page(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        form: bool = False,
    ) -> Response:
        """Render a page; with ``form`` the context gets ``csrf_token`` and the cookie is set if needed.

        Pages are never cached: most carry a personal link.
        """
        ctx = dict(context or {})
        cookie = None
        if form:
            ctx["csrf_token"], cookie = self.csrf.issue(request)
        response = self.templates.TemplateResponse(request, name, ctx, status_code=status_code)
        if cookie is not None:
            self.csrf.set_cookie(request, response, cookie)
        response.headers["Cache-Control"] = "no-store"
        return response

    def message(
        self, request: Request, title: str, message: str, *, status_code: int = 200
    ) -> Response:
        return self.page(
            request, "message.html", {"title": title, "message": message}, status_code=status_code
        )

    def bad_link(self, request: Request, reason: str) -> Response:
        return self.message(request, "Link not valid", f"Sorry, {reason}.", status_code=400)

    def forbidden_form(self, request: Request) -> Response:
        return self.message(
            request,
            "Form expired",
            "This form has expired or your browser did not send its cookie. Go back, reload the page and try again.",
            status_code=403,
        )


MAX_ID = 2**31 - 1  # the largest id a row can have on every supported database


def id_in(payload: dict[str, Any], key: str = "s") -> int:
    """The row id ``key`` of a signed token's payload; TokenError unless it is a positive integer.

    A token signed with our key may still carry the wrong type (a string, a list, a huge number):
    it is then a bad link (400), never a server error.
    """
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise TokenError("this link is not valid")
    return value


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


_TOKEN_PATH = re.compile(
    r"/(confirm|manage|unsubscribed|unsubscribe|feedback|archive|feed|preview)/[A-Za-z0-9_.=-]+"
)


def redact_paths(text: str) -> str:
    """Hide the signed token in a path such as ``/manage/<token>`` (for access logs)."""
    return _TOKEN_PATH.sub(r"/\1/…", text)
