"""APScheduler jobs: the ingest tick and the delivery tick. The scheduler only ticks; the
database decides what is due, so a process that was down catches up when it returns and two
ticks never make two digests.
"""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service import logs
from service.delivery.fan_out import fan_out
from service.delivery.planning import RECHECK, send_due
from service.delivery.retention import prune
from service.delivery.runtime import Runtime
from service.ledger.ingest import utcnow
from service.ledger.source_runs import ingest_sources
from service.storage import store
from service.storage.engine import session_scope

log = logs.get_logger(__name__)


def ingest_tick(runtime: Runtime) -> None:
    settings = runtime.settings
    # Every enabled source (files, hf_daily, arxiv), each isolated from the others' failures.
    reports = ingest_sources(runtime.factory, settings=settings, names=settings.enabled_sources)
    log.info(
        "ingest_tick",
        inputs=len(reports),
        new=sum(r.new for r in reports),
        failed=sum(1 for r in reports if r.errors),
    )
    now = utcnow()
    if any(r.new for r in reports):
        # Digests still open for want of papers (skip-empty, quiet days) are looked at again.
        with session_scope(runtime.factory) as session:
            store.wake_waiting_subscribers(session, now=now, within=RECHECK)
    prune(runtime.factory, settings=settings, now=now)  # the daily tick keeps the database bounded


def delivery_tick(runtime: Runtime) -> None:
    """Plan every due digest; send them here, or queue them for workers (procrastinate)."""
    enqueue = fan_out(runtime)
    mailer = None if enqueue is not None else runtime.mailer()
    try:
        send_due(
            runtime.pipeline, mailer=mailer, now=utcnow(), stop=runtime.stopping, enqueue=enqueue
        )
    finally:
        if mailer is not None:
            mailer.close()


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """A scheduler with both jobs; each runs at most once at a time and missed runs coalesce."""
    settings = runtime.settings
    scheduler = BackgroundScheduler(timezone="UTC")
    never_overlap = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    scheduler.add_job(
        ingest_tick,
        CronTrigger.from_crontab(settings.ingest_cron, timezone="UTC"),
        args=[runtime],
        id="ingest",
        **never_overlap,
    )
    scheduler.add_job(
        delivery_tick,
        IntervalTrigger(seconds=settings.delivery_interval_seconds),
        args=[runtime],
        id="delivery",
        next_run_time=utcnow(),  # catch up at start-up on anything due while the service was down
        **never_overlap,
    )
    return scheduler
