"""What goes into one subscriber's digest: its ranked papers (one relevance index per run), the
facts about its days (new papers, quiet-day notes), the digest with its signed links, the papers
a stored delivery was created with, and previews that write and send nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.delivery import ranking_inputs
from service.delivery.due import due_at
from service.delivery.run import Pipeline
from service.errors import PaperboyError
from service.ranking.index import RelevanceIndex
from service.records import Digest, Reason, RenderedDigest, ScoredPaper, Topic
from service.settings import Settings
from service.sources import source_calendar
from service.sources.arxiv_calendar import quiet_reason
from service.storage import store
from service.storage.engine import session_scope
from service.storage.rows import ReadSubscriber


def choose_papers(
    pipeline: Pipeline,
    session: Session,
    subscriber: ReadSubscriber,
    index: RelevanceIndex,
    now: dt.datetime,
) -> list[ScoredPaper]:
    """Topics, floor, trending share, history and votes → ranked papers (service/delivery/ranking_inputs.py)."""
    return ranking_inputs.rank_for_subscriber(
        session, settings=pipeline.settings, subscriber=subscriber, index=index, now=now
    )


def build_index(pipeline: Pipeline, session: Session, now: dt.datetime) -> RelevanceIndex:
    """One index per run over the widest candidate window any subscriber can have."""
    return ranking_inputs.build_index(session, settings=pipeline.settings, now=now)


def make_digest(
    pipeline: Pipeline, subscriber: ReadSubscriber, digest_date: dt.date, papers: Sequence[ScoredPaper],
    *, facts: DayFacts | None = None,
) -> Digest:  # fmt: skip
    facts = facts or DayFacts()
    return Digest(
        email=subscriber.email,
        digest_date=digest_date,
        papers=tuple(papers),
        links=pipeline.links(
            subscriber.id, [p.paper.paper_id for p in papers], papers, facts.interest_ids
        ),
        topics=tuple(ranking_inputs.topics_of(subscriber)),
        notes=facts.notes,
        cadence=subscriber.cadence,
        new_papers=facts.new_papers,
    )


@dataclass(frozen=True, slots=True)
class DayFacts:
    """What a digest says about its days besides its papers: how many new papers its window had
    (for an empty digest: none at all, or none that matched) and the notes on quiet days."""

    new_papers: int | None = None
    notes: tuple[str, ...] = ()
    # The reader's interests by name (when the picks name theirs): the links carry the id.
    interest_ids: dict[str, int] = dataclasses.field(default_factory=dict)


def window(subscriber: ReadSubscriber, digest_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The time a digest covers: from the previous digest's due moment (a day, or a week for a
    weekly subscriber) to its own."""
    days = 7 if subscriber.cadence == "weekly" else 1
    tz, hour = subscriber.timezone, subscriber.delivery_hour
    until = due_at(digest_date=digest_date, timezone=tz, hour=hour)
    since = due_at(digest_date=digest_date - dt.timedelta(days=days), timezone=tz, hour=hour)
    return since, until


def calendar_quiet(settings: Settings, subscriber: ReadSubscriber, digest_date: dt.date) -> bool:
    """True when every enabled source with a calendar is expected to announce nothing for this
    digest (arXiv and Daily Papers on weekends, arXiv's holidays): no quiet-day note is sent."""
    since, until = window(subscriber, digest_date)
    return source_calendar.is_quiet(
        settings.enabled_sources, since=since, until=until, holidays=settings.arxiv_holiday_dates
    )


def day_facts(
    session: Session, settings: Settings, subscriber: ReadSubscriber, digest_date: dt.date,
    papers: Sequence[ScoredPaper], now: dt.datetime, *, last_date: dt.date | None | bool = False,
    interest_ids: Mapping[str, int] | None = None,
) -> DayFacts:  # fmt: skip
    """The new papers and notes of one digest: the calendar-quiet days since the subscriber's
    previous digest ("Nothing was announced on Saturday and Sunday."), and for an empty digest
    the number of new papers in its window and which expected source had none. ``last_date``:
    the subscriber's latest sent digest date when the caller loaded it already (a batch);
    ``interest_ids`` likewise, their interests' name → id."""
    notes: list[str] = []
    if last_date is False or last_date is True:
        last_date = store.last_digest_date(session, subscriber_id=subscriber.id)
    if subscriber.cadence != "weekly" and last_date is not None:
        # The days since the previous digest without one, named if the calendars kept them quiet
        # (within a week: older gaps are a pause, not a weekend).
        gap = range(1, (digest_date - last_date).days)
        skipped = [last_date + dt.timedelta(days=d) for d in gap] if len(gap) < 7 else []
        quiet = [d for d in skipped if calendar_quiet(settings, subscriber, d)]
        if quiet:
            notes.append(f"Nothing was announced on {source_calendar.day_names(quiet)}.")
    if papers:
        ids: dict[str, int] = {}
        if any(p.interest for p in papers):
            ids = (
                dict(interest_ids)
                if interest_ids is not None
                else store.interest_ids(session, subscriber_id=subscriber.id)
            )
        return DayFacts(None, tuple(notes), ids)
    last_sent = store.last_sent_at(session, subscriber_id=subscriber.id)
    since = ranking_inputs.candidate_since(
        settings=settings, subscriber=subscriber, now=now, previous=last_sent
    )
    seen = store.sources_of_papers_seen(session, since=since, until=now)
    when = "this week" if subscriber.cadence == "weekly" else "today"
    window_since, window_until = window(subscriber, digest_date)
    holidays = settings.arxiv_holiday_dates
    expected = source_calendar.expected_sources(
        settings.enabled_sources, since=window_since, until=window_until, holidays=holidays
    )
    if "arxiv" in settings.enabled_sources and "arxiv" not in expected:
        reason = quiet_reason(source_calendar.listing_day("arxiv", window_until), holidays)
        if reason:
            notes.append(f"No new arXiv papers {when}: {reason}.")
    for source in expected:
        if not any(source in sources for sources in seen):
            notes.append(
                f"No new papers came from {source_calendar.NAMES[source]} {when}, though its "
                "calendar expected some: your next digest will catch up on them."
            )
    return DayFacts(len(seen), tuple(notes))


def preview(
    pipeline: Pipeline, *, email: str, now: dt.datetime, digest_date: dt.date | None = None
) -> tuple[Digest, RenderedDigest]:
    """Rank and render what ``email`` would get now, writing and sending nothing."""
    with session_scope(pipeline.factory) as session:
        subscriber = store.get_subscriber(session, email=email)
        if subscriber is None:
            raise PaperboyError(f"no subscriber {email!r}")
        index = build_index(pipeline, session, now)
        papers = choose_papers(pipeline, session, subscriber, index, now)
        date = digest_date or now.astimezone(zoneinfo.ZoneInfo(subscriber.timezone)).date()
        facts = day_facts(session, pipeline.settings, subscriber, date, papers, now)
        digest = make_digest(pipeline, subscriber, date, papers, facts=facts)
    return digest, pipeline.renderer.render(digest)


def stored_papers(session: Session, delivery_id: int) -> list[ScoredPaper]:
    """The papers a delivery was created with, so a resumed send mails the same digest."""
    items = store.delivery_items(session, delivery_id=delivery_id)
    papers = store.papers_by_id(session, ids=[i.paper_id for i in items])
    return [
        ScoredPaper(
            papers[i.paper_id], i.score, tuple(Reason(label) for label in i.reasons), i.interest
        )
        for i in items
        if i.paper_id in papers
    ]


def preview_papers(
    pipeline: Pipeline, *, subscriber_id: int, topics: Sequence[Topic], max_papers: int, now: dt.datetime,
    floor: float | None = None, trending_share: float | None = None, interest_id: int | None = None,
) -> list[ScoredPaper]:  # fmt: skip
    """What a subscriber's next digest would hold with these (unsaved) topics and maximum, and
    relevance floor and trending share when given (None: the stored ones).

    The topics are those of the interest ``interest_id`` (None: the first); their other
    interests keep their stored topics, so a reader with several sees the sections."""
    with session_scope(pipeline.factory) as session:
        subscriber = store.get_subscriber_by_id(session, subscriber_id=subscriber_id)
        if subscriber is None:
            raise PaperboyError(f"no subscriber #{subscriber_id}")
        index = build_index(pipeline, session, now)
        specs = ranking_inputs.interest_specs(session, subscriber_id=subscriber_id)
        ids = [i.id for i in store.list_interests(session, subscriber_id=subscriber_id)]
        edited = ids.index(interest_id) if interest_id in ids else 0
        if specs:  # liked papers and the other interests stay as stored
            specs[edited] = dataclasses.replace(specs[edited], topics=tuple(topics))
        return ranking_inputs.rank_for_subscriber(
            session, settings=pipeline.settings, subscriber=subscriber, index=index, now=now,
            topics=topics, max_papers=max_papers, floor=floor, trending_share=trending_share,
            interests=specs or None,
        )  # fmt: skip
