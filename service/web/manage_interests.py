"""``POST /manage/{token}/interests``: add, rename, remove and reorder the reader's interests
(each a small CSRF'd form on the manage page). A change answers 303 to the manage page, on the
interest it concerns, so a reload posts nothing; bad input shows the page with the error."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from service import logs
from service.errors import InputError
from service.storage import store
from service.subscribers.tokens import TokenError
from service.web.manage import ManageDep, _rows, _values_of

log = logs.get_logger(__name__)
router = APIRouter()

ACTIONS = ("add", "rename", "remove", "up", "down")


@router.post("/manage/{token}/interests")
def change_interests(
    request: Request,
    token: str,
    page: ManageDep,
    action: Annotated[str, Form()] = "",
    interest: Annotated[int | None, Form()] = None,
    name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not page.pages.csrf.valid(request, csrf_token):
        return page.pages.forbidden_form(request)
    try:
        subscriber = page.load(token, interest)
    except TokenError as exc:
        return page.pages.bad_link(request, str(exc))
    session = page.session
    row = store.get_subscriber_by_id(session, subscriber_id=subscriber.id)
    assert row is not None
    target = (
        store.get_interest_by_id(session, subscriber_id=row.id, interest_id=interest)
        if interest is not None
        else None
    )
    show = target.id if target is not None else None
    try:
        if action == "add":
            # A new interest starts empty: the page opens on it to add its topics.
            show = store.add_interest(session, subscriber=row, name=name, now=page.clock()).id
        elif target is None or action not in ACTIONS:
            raise InputError("that interest no longer exists; reload the page")
        elif action == "rename":
            store.rename_interest(session, subscriber_id=row.id, interest=target, name=name)
        elif action == "remove":
            store.remove_interest(session, subscriber=row, interest=target)
            show = None
        else:
            store.move_interest(
                session, subscriber_id=row.id, interest=target, by=-1 if action == "up" else 1
            )
    except InputError as exc:
        session.rollback()
        prefs = page.prefs(subscriber)
        return page.show(
            request, token, subscriber, rows=_rows(prefs.topics), values=_values_of(prefs),
            papers=page.papers_for(subscriber.id, prefs), error=str(exc), status_code=400,
        )  # fmt: skip
    session.commit()
    log.info("interests_changed", subscriber_id=subscriber.id, action=action)
    where = f"/manage/{token}" + (f"?interest={show}" if show is not None else "")
    return RedirectResponse(where, status_code=303)
