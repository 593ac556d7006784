"""Ingest: parsed listings → the paper ledger, through the pure diff, with sightings recorded.

A source that fails is recorded in ``ingest_runs`` with its error and does not stop the others;
a malformed entry is rejected on its own and counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.errors import SourceError
from service.ledger.diff import Change, diff, title_key
from service.records import IngestReport, ParseResult
from service.sources.listing_file import read_listing_file
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)

LISTING_SUFFIXES = (".txt", ".json", ".jsonl")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ingest_parsed(
    session: Session, *, source: str, parsed: ParseResult, now: dt.datetime
) -> IngestReport:
    """Merge one parsed input into the ledger and record sightings; the caller commits."""
    report = IngestReport(source=source, fetched=len(parsed.listings) + len(parsed.rejected))
    report.rejected = len(parsed.rejected)
    if parsed.quiet:
        report.status = "no_announcement"
    for rejected in parsed.rejected:
        log.warning("listing_rejected", source=source, where=rejected.where, reason=rejected.reason)
    keys: set[str] = set()
    for listing in parsed.listings:
        keys.add(listing.arxiv_id or title_key(listing.title))
        if listing.arxiv_id:
            keys.add(title_key(listing.title))
    known = store.paper_states(session, keys=keys)
    listings = parsed.listings
    if parsed.update_only:
        # A replacement of a paper the ledger never had is an old paper revised, not news.
        listings = [
            item for item in listings
            if item.arxiv_id not in parsed.update_only or item.arxiv_id in known or title_key(item.title) in known
        ]  # fmt: skip
        report.skipped = len(parsed.listings) - len(listings)
    changes = diff(listings, known)
    for change in changes:
        if change.kind == "new":
            store.insert_paper(session, key=change.key, fields=change.fields, now=now)
        elif change.kind == "updated":
            store.update_paper(
                session, key=change.key, fields=change.fields, now=now, old_key=change.old_key
            )
        setattr(report, change.kind, getattr(report, change.kind) + 1)
    session.flush()
    ids = _record_sightings(
        session, changes=changes, source=source, now=now, default_day=parsed.listed_on
    )
    report.changed_ids = sorted({ids[c.key] for c in changes if c.kind in ("new", "updated")})
    return report


def _record_sightings(
    session: Session,
    *,
    changes: list[Change],
    source: str,
    now: dt.datetime,
    default_day: dt.date | None,
) -> dict[str, int]:
    """One sighting per paper per observation; replaying an input records nothing again.

    Returns the paper id of each change's key.
    """
    ids = store.paper_ids(session, keys=[c.key for c in changes])
    recorded = store.sighting_observations(session, paper_ids=ids.values(), source=source)
    rows, seen = [], set()
    for change in changes:
        paper_id = ids[change.key]
        listing = change.listing
        observation = (
            paper_id, listing.listed_on or default_day, listing.position, listing.upvotes, listing.comments, listing.stars,
        )  # fmt: skip
        if paper_id in seen or observation in recorded:
            continue
        seen.add(paper_id)
        rows.append({
            "paper_id": paper_id, "source": source, "seen_at": now, "listed_on": observation[1],
            "position": listing.position, "upvotes": listing.upvotes, "comments": listing.comments,
            "stars": listing.stars,
        })  # fmt: skip
    store.add_sightings(session, rows=rows)
    return ids


def ingest_file(
    factory: sessionmaker[Session],
    *,
    path: Path,
    source: str = "file",
    now: dt.datetime | None = None,
    embed: bool = True,
) -> IngestReport:
    """Parse and ingest one listing file in one transaction, logged as one ingest run.

    An unreadable or unparseable file raises SourceError after its failure is recorded.
    """
    now = now or utcnow()
    return run_ingest(
        factory,
        source=source,
        input_name=str(path),
        now=now,
        parse=lambda: read_listing_file(path, source=source),
        embed=embed,
    )


def run_ingest(
    factory: sessionmaker[Session],
    *,
    source: str,
    input_name: str,
    now: dt.datetime,
    parse: Callable[[], ParseResult],
    on_success: Callable[[Session, IngestReport], None] | None = None,
    seen_at: dt.datetime | Callable[[ParseResult], dt.datetime | None] | None = None,
    embed: bool = True,
) -> IngestReport:
    """Parse (or fetch and parse), then ingest in one transaction; ``on_success`` joins it.

    ``seen_at`` (default ``now``; or a function of the parse) is the papers' first-seen and
    sighting time: a backfill of a past day passes that day, so history does not land in the
    next digest as news. After the transaction commits, the new and revised papers are embedded
    and their vectors stored (``embed``; a failure there is logged and leaves them to ranking).
    """
    with session_scope(factory) as session:
        run_id = store.start_ingest_run(session, source=source, input_name=input_name, now=now).id
    try:
        parsed = parse()
        with session_scope(factory) as session:
            when = seen_at(parsed) if callable(seen_at) else seen_at
            report = ingest_parsed(session, source=source, parsed=parsed, now=when or now)
            if on_success is not None:
                on_success(session, report)
            store.finish_ingest_run(
                session,
                run_id=run_id,
                counts=report.as_dict(),
                error=None,
                now=utcnow(),
                status=report.status,
            )
    except Exception as exc:
        counts = {"fetched": 0, "new": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        if isinstance(exc, DBAPIError):
            # The database failed, not the input: record that if the store still can, and let
            # the error say so (the caller names the database, not the input).
            try:
                with session_scope(factory) as session:
                    store.finish_ingest_run(
                        session, run_id=run_id, counts=counts, error=str(exc), now=utcnow()
                    )
            except DBAPIError:
                pass
            raise
        with session_scope(factory) as session:
            store.finish_ingest_run(
                session, run_id=run_id, counts=counts, error=str(exc), now=utcnow()
            )
        log.error("ingest_failed", source=source, input=input_name, error=str(exc))
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"{input_name}: {exc}") from exc
    if embed and report.changed_ids:
        from service.ledger import embeddings  # the encoder loads numpy: only when embedding

        report.embedded = embeddings.embed_papers(factory, paper_ids=report.changed_ids)
    log.info(
        "ingest",
        source=source,
        input=input_name,
        status=report.status,
        fetched=report.fetched,
        new=report.new,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=report.rejected,
        skipped=report.skipped,
        embedded=report.embedded,
    )
    return report


def listing_files(folder: Path) -> list[Path]:
    """Listing files in a folder, oldest name first (names usually carry the date)."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in LISTING_SUFFIXES
    )


def ingest_folder(
    factory: sessionmaker[Session],
    *,
    folder: Path,
    now: dt.datetime | None = None,
    embed: bool = True,
) -> list[IngestReport]:
    """Ingest every listing file in ``folder``; one bad file is logged and the rest still go in.

    A file already ingested cleanly and not modified since is passed over, so scanning the
    folder on every tick costs a directory listing, not a parse of every file.
    """
    reports = []
    for path in listing_files(folder):
        with session_scope(factory) as session:
            done_at = store.last_clean_ingest(session, input_name=str(path))
        if (
            done_at is not None
            and dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC) < done_at
        ):
            continue
        try:
            reports.append(ingest_file(factory, path=path, source="file", now=now, embed=embed))
        except SourceError as exc:
            report = IngestReport(source="file", errors=[str(exc)], status="failed")
            reports.append(report)
    return reports


def ingest_enabled_sources(
    factory: sessionmaker[Session], *, sources: Iterable[str], listing_dir: Path, embed: bool = True
) -> list[IngestReport]:
    """The `files` source of the scheduled ingest; the HTTP sources run in ``source_runs.ingest_sources``."""
    reports: list[IngestReport] = []
    for source in sources:
        if source == "files":
            reports.extend(ingest_folder(factory, folder=listing_dir, embed=embed))
    return reports
