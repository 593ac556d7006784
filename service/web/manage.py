"""``/manage/{token}``: interests (``manage_interests.py``: add, rename, remove, reorder) and
the topics of one of them at a time (add, remove, weight, exclude; ``?interest=<id>``), cadence, hour, time zone, papers per
digest, quiet days, how strict topic matching is and how many trending papers to mix in, pause,
resume and unsubscribe, and a preview of the next digest with the settings on the
form (saved or not). ``/preview/{token}`` shows the whole next email as it would be sent."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service import logs
from service.delivery.selection import preview, preview_papers
from service.errors import InputError
from service.records import Topic
from service.storage import store
from service.subscribers import topic_check
from service.subscribers.liked_papers import MAX_FILE_BYTES
from service.subscribers.ranking_levels import RELEVANCE_FLOOR, TRENDING_SHARE
from service.subscribers.subscriptions import Preferences, parse_preferences
from service.subscribers.tokens import TokenError
from service.subscribers.validation import TOPIC_KINDS
from service.web.deps import ClockDep, PagesDep, RuntimeDep, SessionDep
from service.web.landing import timezones
from service.web.links import id_in

log = logs.get_logger(__name__)

BLANK_ROWS = 3
RESUMABLE = ("paused", "unsubscribed")
LEAVABLE = ("active", "paused")
# Notices another page sends the reader here with (``?notice=<key>``): fixed words, never input.
NOTICES = {"resubscribed": "Welcome back: your digests start again, with the settings below."}
# The email keeps its inline styles; nothing else is allowed to load or run.
PREVIEW_CSP = "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _edited(interests: list[Any], interest_id: int | None) -> Any:
    """The interest whose topics the form edits: the one asked for, else the first (None: none)."""
    for interest in interests:
        if interest.id == interest_id:
            return interest
    return interests[0] if interests else None


def _preferences_of(subscriber: Any, interest: Any = None) -> Preferences:
    topics = interest.topics if interest is not None else subscriber.topics
    return Preferences(
        topics=tuple((t.kind, t.text, t.weight) for t in topics),
        timezone=subscriber.timezone, delivery_hour=subscriber.delivery_hour, cadence=subscriber.cadence,
        max_papers=subscriber.max_papers, skip_empty=subscriber.skip_empty,
        relevance_floor=subscriber.relevance_floor, trending_share=subscriber.trending_share,
    )  # fmt: skip


def _rows(topics: Any) -> list[dict[str, Any]]:
    rows = [{"text": text, "kind": kind, "weight": f"{weight:g}"} for kind, text, weight in topics]
    return rows + [{"text": "", "kind": "keyword", "weight": "1"} for _ in range(BLANK_ROWS)]


def _values_of(prefs: Preferences) -> dict[str, Any]:
    return {
        "timezone": prefs.timezone, "hour": prefs.delivery_hour, "cadence": prefs.cadence,
        "max_papers": prefs.max_papers, "skip_empty": prefs.skip_empty,
        "relevance_floor": RELEVANCE_FLOOR.value_of(prefs.relevance_floor),
        "trending_share": TRENDING_SHARE.value_of(prefs.trending_share),
    }  # fmt: skip


class ManagePage:
    """The manage page's work for one request, on the request's session, pages and clock."""

    def __init__(
        self, session: SessionDep, runtime: RuntimeDep, pages: PagesDep, clock: ClockDep
    ) -> None:
        self.session, self.runtime, self.pages, self.clock = session, runtime, pages, clock

    def load(self, token: str, interest_id: int | None = None) -> Any:
        subscriber_id = id_in(self.runtime.signer.read("manage", token))
        subscriber = store.get_subscriber_by_id(self.session, subscriber_id=subscriber_id)
        if subscriber is None:
            raise TokenError("this subscription no longer exists")
        self.session.expunge(subscriber)
        self.interests = store.list_interests(self.session, subscriber_id=subscriber_id)
        self.interest = _edited(self.interests, interest_id)
        return subscriber

    @property
    def interest_id(self) -> int | None:
        return self.interest.id if self.interest is not None else None

    def prefs(self, subscriber: Any) -> Preferences:
        return _preferences_of(subscriber, self.interest)

    def papers_for(self, subscriber_id: int, prefs: Preferences) -> list[Any]:
        topics = [Topic(kind, text, weight) for kind, text, weight in prefs.topics]
        settings = self.runtime.pipeline.settings
        return preview_papers(
            self.runtime.pipeline,
            subscriber_id=subscriber_id,
            topics=topics,
            max_papers=prefs.max_papers,
            now=self.clock(),
            # The form's choice, unsaved; its "default" is the service default, not the stored one.
            floor=settings.relevance_floor
            if prefs.relevance_floor is None
            else prefs.relevance_floor,
            trending_share=settings.trending_share
            if prefs.trending_share is None
            else prefs.trending_share,
            interest_id=self.interest_id,
        )

    def show(
        self, request: Request, token: str, subscriber: Any, *, rows: list[dict[str, Any]], values: dict[str, Any],
        papers: list[Any] | None, notice: str | None = None, error: str | None = None, status_code: int = 200,
        extra: dict[str, Any] | None = None,
    ) -> Response:  # fmt: skip
        context = {
            "token": token, "status": subscriber.status, "rows": rows, "values": values, "papers": papers,
            "kinds": TOPIC_KINDS, "timezones": timezones(), "notice": notice, "error": error,
            "floor_options": RELEVANCE_FLOOR.options(values["relevance_floor"]),
            "trending_options": TRENDING_SHARE.options(values["trending_share"]),
            "feed_token": self.runtime.signer.make("feed", s=subscriber.id),
            "quiet": self.quiet_of(rows), "quiet_days": topic_check.WINDOW.days,
            "interests": self.interests, "interest": self.interest,
            "max_interests": store.MAX_INTERESTS,
            "feed_tokens": {
                i.id: self.runtime.signer.make("feed", s=subscriber.id, i=i.id)
                for i in self.interests
            },
            "seeded": None, "max_upload_mb": MAX_FILE_BYTES // (1024 * 1024), **(extra or {}),
        }  # fmt: skip
        return self.pages.page(request, "manage.html", context, status_code=status_code, form=True)

    def quiet_of(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """(kind, text) of the topics on the form that matched no paper lately."""
        topics = [
            Topic(r["kind"], r["text"]) for r in rows if r["text"] and r["kind"] in TOPIC_KINDS
        ]
        found = topic_check.quiet_topics(self.session, topics=topics, now=self.clock())
        return {(t.kind, t.text) for t in found}

    def fragment(
        self, request: Request, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        """The preview alone, for the page's script; the header tells it this is a fragment."""
        response = self.pages.page(request, "_preview.html", context, status_code=status_code)
        response.headers["X-Paperboy-Fragment"] = "1"
        return response

    def leave(self, subscriber: Any) -> Response:
        """Unsubscribe (from active or paused), then the page that offers the undo (303: a reload
        of that page posts nothing)."""
        changed = store.set_subscriber_status(
            self.session, subscriber_id=subscriber.id, status="unsubscribed", only_from=LEAVABLE
        )
        self.session.commit()
        if changed:
            log.info("unsubscribed", subscriber_id=subscriber.id, via="manage")
        left = self.runtime.signer.make("unsubscribe", s=subscriber.id)
        return RedirectResponse(f"/unsubscribed/{left}", status_code=303)

    def pause_or_resume(
        self, request: Request, token: str, subscriber: Any, action: str
    ) -> Response:
        if action == "pause" and subscriber.status == "active":
            new_status = "paused"
        elif action == "resume" and subscriber.status in RESUMABLE:
            new_status = "active"
        else:
            new_status = None
        if new_status is not None:
            changed = store.set_subscriber_status(
                self.session, subscriber_id=subscriber.id, status=new_status,
                only_from=("active",) if action == "pause" else RESUMABLE,
            )  # fmt: skip
            self.session.commit()
            new_status = new_status if changed else None
        if new_status is not None:
            log.info(
                "subscriber_paused" if action == "pause" else "subscriber_resumed",
                subscriber_id=subscriber.id,
            )
            subscriber.status = new_status
        prefs = self.prefs(subscriber)
        notice = {
            "paused": "Paused: no digests until you resume.",
            "active": "Resumed: digests start again.",
        }.get(new_status or "", "Nothing to change.")
        return self.show(request, token, subscriber, rows=_rows(prefs.topics), values=_values_of(prefs),
                         papers=self.papers_for(subscriber.id, prefs), notice=notice)  # fmt: skip


ManageDep = Annotated[ManagePage, Depends()]
router = APIRouter()


@router.get("/manage/{token}")
def manage_page(
    request: Request, token: str, page: ManageDep, notice: str | None = None,
    interest: int | None = None,
) -> Response:  # fmt: skip
    try:
        subscriber = page.load(token, interest)
    except TokenError as exc:
        return page.pages.bad_link(request, str(exc))
    prefs = page.prefs(subscriber)
    return page.show(
        request, token, subscriber, rows=_rows(prefs.topics), values=_values_of(prefs),
        papers=page.papers_for(subscriber.id, prefs), notice=NOTICES.get(notice or ""),
    )  # fmt: skip


@router.post("/manage/{token}")
def manage(
    request: Request,
    token: str,
    page: ManageDep,
    action: str = Form("save"),
    text: Annotated[list[str] | None, Form()] = None,
    kind: Annotated[list[str] | None, Form()] = None,
    weight: Annotated[list[str] | None, Form()] = None,
    remove: Annotated[list[int] | None, Form()] = None,
    timezone: str = Form(""),
    hour: str = Form(""),
    cadence: str = Form(""),
    max_papers: str = Form(""),
    skip_empty: str = Form(""),
    relevance_floor: str | None = Form(None),
    trending_share: str | None = Form(None),
    csrf_token: str = Form(""),
    interest: int | None = Form(None),
) -> Response:
    if not page.pages.csrf.valid(request, csrf_token):
        return page.pages.forbidden_form(request)
    try:
        subscriber = page.load(token, interest)
    except TokenError as exc:
        return page.pages.bad_link(request, str(exc))
    text, kind, weight, remove = text or [], kind or [], weight or [], remove or []
    # A form without these fields (a page from before they existed) keeps the stored ones.
    if relevance_floor is None:
        relevance_floor = RELEVANCE_FLOOR.value_of(subscriber.relevance_floor)
    if trending_share is None:
        trending_share = TRENDING_SHARE.value_of(subscriber.trending_share)
    if action in ("pause", "resume"):
        return page.pause_or_resume(request, token, subscriber, action)
    if action == "unsubscribe":
        return page.leave(subscriber)
    rows = [
        {
            "text": t,
            "kind": kind[i] if i < len(kind) else "keyword",
            "weight": weight[i] if i < len(weight) else "1",
        }
        for i, t in enumerate(text)
        if i + 1 not in set(remove)
    ]
    values = {
        "timezone": timezone,
        "hour": hour,
        "cadence": cadence,
        "max_papers": max_papers,
        "skip_empty": bool(skip_empty),
        "relevance_floor": relevance_floor,
        "trending_share": trending_share,
    }
    try:
        prefs = parse_preferences(
            texts=text, kinds=kind, weights=weight, removed=set(remove), timezone=timezone, hour=hour,
            cadence=cadence, max_papers=max_papers, skip_empty=bool(skip_empty),
            relevance_floor=relevance_floor, trending_share=trending_share,
        )  # fmt: skip
    except InputError as exc:
        if request.headers.get("x-paperboy-fragment"):
            return page.fragment(request, {"error": str(exc), "papers": None}, status_code=400)
        return page.show(request, token, subscriber, rows=rows + _rows(())[:1], values=values, papers=None,
                    error=str(exc), status_code=400)  # fmt: skip
    papers = page.papers_for(subscriber.id, prefs)
    if action == "preview":
        if request.headers.get(
            "x-paperboy-fragment"
        ):  # the page's script asks for the preview only
            return page.fragment(request, {"papers": papers, "unsaved": True})
        return page.show(request, token, subscriber, rows=_rows(prefs.topics), values=_values_of(prefs), papers=papers,
                    notice="Preview with the settings below. They are not saved yet.")  # fmt: skip
    session = page.session
    row = store.get_subscriber_by_id(session, subscriber_id=subscriber.id)
    assert row is not None
    edited = (
        store.get_interest_by_id(session, subscriber_id=row.id, interest_id=page.interest_id)
        if page.interest_id is not None
        else None
    )
    if edited is not None:
        store.set_interest_topics(session, subscriber=row, interest=edited, topics=prefs.topics)
    else:
        store.replace_topics(session, subscriber=row, topics=prefs.topics, now=page.clock())
    store.update_subscriber(
        session, subscriber_id=subscriber.id, timezone=prefs.timezone, delivery_hour=prefs.delivery_hour,
        cadence=prefs.cadence, max_papers=prefs.max_papers, skip_empty=prefs.skip_empty,
    )  # fmt: skip
    store.set_ranking_preferences(
        session, subscriber_id=subscriber.id, relevance_floor=prefs.relevance_floor,
        trending_share=prefs.trending_share,
    )  # fmt: skip
    session.commit()
    page.interests = store.list_interests(session, subscriber_id=subscriber.id)
    page.interest = _edited(page.interests, page.interest_id)
    log.info("settings_saved", subscriber_id=subscriber.id, topics=len(prefs.topics))
    return page.show(request, token, subscriber, rows=_rows(prefs.topics), values=_values_of(prefs), papers=papers,
                notice="Saved. Your next digest follows these settings.")  # fmt: skip


@router.get("/preview/{token}")
def preview_email(request: Request, token: str, page: ManageDep) -> Response:
    """The next digest exactly as the email would render, with the saved settings."""
    try:
        subscriber = page.load(token)
    except TokenError as exc:
        return page.pages.bad_link(request, str(exc))
    _digest, rendered = preview(page.runtime.pipeline, email=subscriber.email, now=page.clock())
    return HTMLResponse(
        rendered.html,
        headers={"Content-Security-Policy": PREVIEW_CSP, "Cache-Control": "no-store"},
    )
