"""`POST /webhooks/bounces`: a mail provider (or your MTA's script) reports bounces and complaints.

Body: a JSON list of ``{"email": "...", "type": "bounce" | "complaint", "hard": true}`` (at most
1,000 items, 1 MB). Authenticated with the shared secret ``PAPERBOY_BOUNCE_WEBHOOK_SECRET``, as
``Authorization: Bearer <secret>`` or ``X-Paperboy-Signature: sha256=<hex HMAC-SHA256 of the raw
body>``, compared in constant time. Unset secret: the endpoint does not exist (404). A request with
neither header, or a wrong bearer token, is refused before its body is read; a body is never read
past 1 MB (413), and JSON nested too deeply to parse is a 400.

The answer is the same whether or not an address is a subscriber (202 and the number of items
received), so the endpoint cannot be used to probe who is subscribed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from service import logs
from service.delivery.bounces import BounceEvent, apply_events
from service.web.deps import SessionDep, SettingsDep

log = logs.get_logger(__name__)

MAX_BODY = 1_000_000
MAX_ITEMS = 1_000
SIGNATURE_HEADER = "x-paperboy-signature"


class BounceReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    type: Literal["bounce", "complaint"]
    hard: bool = True


_REPORTS = TypeAdapter(list[BounceReport])


def authorized(
    secret: str, *, authorization: str | None, signature: str | None, body: bytes
) -> bool:
    """Pure: the bearer token or the body's HMAC-SHA256 signature matches the secret (constant time)."""
    key = secret.encode("utf-8")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("utf-8"), key):
            return True
    if signature:
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(
            signature.strip().lower().encode("ascii", "replace"), expected.encode("ascii")
        ):
            return True
    return False


def unauthorized() -> Response:
    log.warning("bounce_webhook_refused", reason="unauthenticated")
    return JSONResponse(
        {"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


def too_large() -> Response:
    return JSONResponse(
        {"error": f"body over {MAX_BODY} bytes"}, status_code=413, headers={"Connection": "close"}
    )


def _declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length", "0"))
    except ValueError:
        return MAX_BODY + 1  # not a number: no honest client sends that


async def _read_at_most(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past ``limit`` bytes (the rest is never read)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


router = APIRouter()


@router.post("/webhooks/bounces")
async def bounces_webhook(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    secret = settings.bounce_webhook_secret
    if not secret:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    # Authentication and size are checked before the body is read: a stranger's upload is
    # refused unread, and nobody's is read past MAX_BODY.
    authorization = request.headers.get("authorization")
    signature = request.headers.get(SIGNATURE_HEADER)
    bearer = authorized(secret, authorization=authorization, signature=None, body=b"")
    if not bearer and not signature:
        return unauthorized()
    if _declared_length(request) > MAX_BODY:
        return too_large()
    body = await _read_at_most(request, MAX_BODY)
    if body is None:
        return too_large()
    if not bearer and not authorized(secret, authorization=None, signature=signature, body=body):
        return unauthorized()
    try:
        reports = _REPORTS.validate_python(json.loads(body))
    except RecursionError:
        return JSONResponse(
            {"error": "JSON nested too deeply: expected a list of {email, type, hard}"},
            status_code=400,
        )
    except (ValueError, ValidationError) as exc:
        problem = (
            exc.errors(include_url=False, include_input=False)
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        return JSONResponse(
            {"error": "expected a JSON list of {email, type, hard}", "problems": problem},
            status_code=422,
        )
    if len(reports) > MAX_ITEMS:
        return JSONResponse({"error": f"at most {MAX_ITEMS} items per request"}, status_code=413)
    events = [
        BounceEvent(
            r.email,
            r.type,
            r.type == "bounce" and r.hard,
            f"webhook: {r.type}{' (hard)' if r.hard else ''}",
        )
        for r in reports
    ]
    counts = apply_events(session, events=events, soft_limit=settings.soft_bounce_limit)
    session.commit()
    log.info("bounce_webhook", received=len(events), **dict(sorted(counts.items())))
    # The same answer for subscribers and strangers alike.
    return JSONResponse({"received": len(events)}, status_code=202)
