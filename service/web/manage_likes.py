"""``POST /manage/{token}/likes``: seed an interest with papers the reader likes — pasted arXiv
ids or URLs and/or an uploaded BibTeX (.bib) or Zotero CSL JSON (.json) file — and
``POST /manage/{token}/likes/remove``: stop liking one (the undo).

The upload is refused over 2 MB before it is read whole: first by its Content-Length, then while
the body is read in bounded chunks (a body without a length, or one longer than it said, stops
at the limit). Papers the ledger lacks are looked up on arXiv (`delivery.seeding`); the page then
shows what was added, what arXiv does not know and which lines of the file were rejected.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from service import logs
from service.delivery.seeding import read_liked, seed_interest
from service.errors import InputError
from service.ledger.source_runs import make_fetcher
from service.storage import store
from service.subscribers.liked_papers import MAX_FILE_BYTES
from service.subscribers.tokens import TokenError
from service.web.manage import ManageDep, ManagePage, _rows, _values_of

log = logs.get_logger(__name__)
router = APIRouter()

FORM_SLACK = 64 * 1024  # the other fields (token, interest, pasted ids) beside a full file
MAX_BODY = MAX_FILE_BYTES + FORM_SLACK
TOO_LARGE = f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; nothing was read"


class TooLarge(Exception):
    pass


async def _bounded(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        yield chunk


async def read_form(request: Request) -> FormData:
    """The form, read in bounded chunks; TooLarge past ``MAX_BODY`` (by header or by count)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge
    stream = _bounded(request, MAX_BODY)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        parser: Any = MultiPartParser(request.headers, stream, max_files=1, max_fields=10)
    else:
        parser = FormParser(request.headers, stream, max_fields=10)
    return await parser.parse()


@router.post("/manage/{token}/likes")
async def seed_likes(request: Request, token: str, page: ManageDep) -> Response:
    try:
        form = await read_form(request)
    except TooLarge:
        return await run_in_threadpool(_show, page, request, token, None, TOO_LARGE, 413)
    except MultiPartException as exc:  # a broken body, too many fields, a field over 1 MB
        return await run_in_threadpool(_show, page, request, token, None, f"form: {exc}", 400)
    csrf = form.get("csrf_token")
    if not page.pages.csrf.valid(request, csrf if isinstance(csrf, str) else ""):
        return page.pages.forbidden_form(request)
    upload = form.get("file")
    files = []
    if isinstance(upload, UploadFile) and upload.filename:
        files.append((upload.filename, await upload.read(MAX_FILE_BYTES + 1)))
    ids = form.get("ids")
    interest = form.get("interest")
    interest_id = int(interest) if isinstance(interest, str) and interest.isdigit() else None
    return await run_in_threadpool(
        _seed, page, request, token, interest_id, ids if isinstance(ids, str) else "", files
    )


def _seed(
    page: ManagePage, request: Request, token: str, interest_id: int | None, ids: str,
    files: list[tuple[str, bytes]],
) -> Response:  # fmt: skip
    try:
        subscriber = page.load(token, interest_id)
    except TokenError as exc:
        return page.pages.bad_link(request, str(exc))
    if page.interest is None or page.interest.id != interest_id:
        return _show(page, request, token, None, "that interest no longer exists; reload", 400)
    page.session.rollback()  # no transaction held open while the look-up writes
    runtime = page.runtime
    try:
        liked = read_liked([ids] if ids.strip() else [], files)
        if not liked.papers:
            raise InputError(
                "no arXiv papers found: paste arXiv ids or URLs, or choose a .bib or .json file"
                + (f" ({'; '.join(liked.rejected[:3])})" if liked.rejected else "")
            )
        with make_fetcher(runtime.pipeline.settings) as fetcher:
            report = seed_interest(
                runtime.factory, settings=runtime.pipeline.settings, fetcher=fetcher,
                subscriber_id=subscriber.id, interest_id=interest_id, liked=liked, now=page.clock(),
            )  # fmt: skip
    except InputError as exc:
        return _show(page, request, token, interest_id, str(exc), 400)
    log.info("likes_seeded", subscriber_id=subscriber.id, added=len(report.added))
    return _show(page, request, token, interest_id, None, 200, report)


def _show(
    page: ManagePage, request: Request, token: str, interest_id: int | None, error: str | None,
    status: int, report: Any = None,
) -> Response:  # fmt: skip
    try:
        page.session.rollback()
        subscriber = page.load(token, interest_id)
    except TokenError as exc:
        return page.pages.bad_link(request, str(exc))
    prefs = page.prefs(subscriber)
    return page.show(
        request, token, subscriber, rows=_rows(prefs.topics), values=_values_of(prefs),
        papers=page.papers_for(subscriber.id, prefs), error=error, status_code=status,
        notice=report.summary() if report is not None else None, extra={"seeded": report},
    )  # fmt: skip


@router.post("/manage/{token}/likes/remove")
def remove_like(
    request: Request,
    token: str,
    page: ManageDep,
    interest: Annotated[int, Form()],
    paper: Annotated[int, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not page.pages.csrf.valid(request, csrf_token):
        return page.pages.forbidden_form(request)
    try:
        subscriber = page.load(token, interest)
    except TokenError as exc:
        return page.pages.bad_link(request, str(exc))
    session = page.session
    target = store.get_interest_by_id(session, subscriber_id=subscriber.id, interest_id=interest)
    removed = target is not None and store.remove_interest_like(
        session, interest=target, paper_id=paper
    )
    session.commit()
    log.info("like_removed", subscriber_id=subscriber.id, removed=removed)
    return RedirectResponse(f"/manage/{token}?interest={interest}#likes", status_code=303)
