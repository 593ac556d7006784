"""CSRF protection for the site's forms: a signed double-submit token.

The visitor gets a random value in an HttpOnly cookie; every form carries that value signed with
the site's secret (purpose ``csrf``, a day's lifetime). A post is accepted only when the field
verifies and names the cookie's value, so another site can neither read nor forge the pair.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response

from service.subscribers.tokens import Signer, TokenError

COOKIE = "paperboy_csrf"
FIELD = "csrf_token"


class Csrf:
    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def issue(self, request: Request) -> tuple[str, str | None]:
        """(the form field's value, a new cookie value to set or None when the cookie is fine)."""
        cookie = request.cookies.get(COOKIE, "")
        new = None
        if not (20 <= len(cookie) <= 64 and cookie.replace("-", "").replace("_", "").isalnum()):
            cookie = new = secrets.token_urlsafe(24)
        return self.signer.make("csrf", c=cookie), new

    def valid(self, request: Request, field: str | None) -> bool:
        cookie = request.cookies.get(COOKIE)
        if not cookie or not field:
            return False
        try:
            payload = self.signer.read("csrf", field)
        except TokenError:
            return False
        return hmac.compare_digest(str(payload.get("c", "")).encode(), cookie.encode())

    @staticmethod
    def set_cookie(request: Request, response: Response, value: str) -> None:
        response.set_cookie(
            COOKIE,
            value,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
