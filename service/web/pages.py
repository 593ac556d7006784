"""The site's pages: the Jinja templates, rendered uncached, with the CSRF field on forms."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from service.digest.text import safe_url
from service.resources import templates_dir
from service.web.csrf import Csrf


class Pages:
    """Renders the templates of ``templates/web``; ``csrf`` issues and checks the forms' tokens."""

    def __init__(self, csrf: Csrf) -> None:
        self.csrf = csrf
        self.templates = Jinja2Templates(directory=str(templates_dir() / "web"))
        # Paper links come from sources: only an absolute http(s) URL becomes a link.
        self.templates.env.filters["safe_url"] = safe_url

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
