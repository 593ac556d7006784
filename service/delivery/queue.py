"""The delivery fan-out on procrastinate (PostgreSQL): the scheduler queues batches of due
deliveries, `paperboy worker` processes on any number of machines send them.

The `deliveries` table stays the source of truth. A job carries only delivery ids; a worker
claims each delivery with a lease before sending, so a job that runs twice (procrastinate retries
a stalled job, or the scheduler queues a batch again) finds the deliveries already claimed or sent
and sends nothing twice. A worker killed mid-batch leaves its job "doing"; the periodic
`retry_stalled_jobs` task requeues it once the worker's heartbeat is stale, and its unfinished
claims are taken over when their lease expires.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import procrastinate
from sqlalchemy.engine import make_url

from service import logs
from service.delivery.heap import settle_heap
from service.delivery.mailer import Mailer
from service.delivery.outbox import send_deliveries
from service.delivery.runtime import Runtime
from service.errors import StoreWriteError
from service.ledger.ingest import utcnow

log = logs.get_logger(__name__)

QUEUE = "deliveries"
STALLED_AFTER_SECONDS = 30  # a worker without heartbeat for this long is considered dead
NAMESPACE = "paperboy"
SEND_BATCH = f"{NAMESPACE}:send_batch"

# Set by the `paperboy worker` process before it starts; the jobs run in its threads and share
# one SMTP pool (PAPERBOY_SMTP_CONNECTIONS split between the concurrent jobs).
_runtime: Runtime | None = None
_pool: Mailer | None = None
# Set on SIGTERM: running batches finish the message in flight, release the rest, and return.
stopping = threading.Event()


def conninfo(database_url: str) -> str:
    """A libpq connection string from the SQLAlchemy URL (which names the driver)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"the delivery queue needs PostgreSQL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(database_url: str) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url)),
        worker_defaults={"queues": [QUEUE]},
    )
    app.add_tasks_from(_tasks(), namespace=NAMESPACE)
    return app


def _tasks() -> procrastinate.Blueprint:
    """The queue's tasks, on a new blueprint for every app: adding a blueprint to an app renames
    its tasks in place (the namespace prefix), so a shared one would be renamed again by each
    further app in the process, and its jobs would carry names no worker knows."""
    tasks = procrastinate.Blueprint()
    retry = procrastinate.RetryStrategy(max_attempts=20, wait=10)
    tasks.task(name="send_batch", queue=QUEUE, retry=retry)(send_batch)
    for name, cron, task in (
        ("retry_stalled_jobs", "* * * * *", retry_stalled_jobs),
        ("delete_old_jobs", "17 3 * * *", delete_old_jobs),
    ):
        tasks.periodic(cron=cron)(
            tasks.task(name=name, queue=QUEUE, queueing_lock=name, pass_context=True)(task)
        )
    return tasks


def defer_batch(app: procrastinate.App, delivery_ids: list[int]) -> None:
    """Queue one send_batch job on ``app`` (open)."""
    app.tasks[SEND_BATCH].defer(delivery_ids=delivery_ids)


@functools.cache
def ensure_schema(database_url: str) -> None:
    """apply_schema once per process and database."""
    apply_schema(database_url)


def apply_schema(database_url: str) -> bool:
    """Install procrastinate's tables if they are missing; True when it installed them."""
    import psycopg

    with psycopg.connect(conninfo(database_url), autocommit=True) as connection:
        connection.execute(
            "SELECT pg_advisory_lock(7250413)"
        )  # two starting containers: one installs
        try:
            exists = connection.execute(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
            ).fetchone()
            if exists and exists[0]:
                return False
            app = make_app(database_url)
            with app.open():
                app.schema_manager.apply_schema()
            log.info("queue.schema_installed")
            return True
        finally:
            connection.execute("SELECT pg_advisory_unlock(7250413)")


def batches(delivery_ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(delivery_ids), size):
        yield list(delivery_ids[start : start + size])


def enqueue(runtime: Runtime, delivery_ids: Sequence[int]) -> int:
    """Queue the deliveries in batches; the number of jobs queued."""
    if not delivery_ids:
        return 0
    ensure_schema(runtime.settings.database_url)
    app = make_app(runtime.settings.database_url)
    jobs = 0
    with app.open():
        for batch in batches(sorted(delivery_ids), runtime.settings.delivery_batch_size):
            defer_batch(app, batch)
            jobs += 1
    log.info("queue.enqueued", deliveries=len(delivery_ids), jobs=jobs)
    return jobs


class Interrupted(Exception):
    """The worker is stopping: the batch's unsent deliveries were released; retry the job."""


def send_batch(delivery_ids: list[int]) -> dict[str, Any]:
    """Send these deliveries (those still open); safe to run more than once."""
    if _runtime is None or _pool is None:
        raise RuntimeError("send_batch runs in a `paperboy worker` process")
    report = send_deliveries(
        _runtime.pipeline, mailer=_pool, delivery_ids=delivery_ids, now=utcnow(), stop=stopping
    )
    log.info("queue.batch_done", deliveries=len(delivery_ids), **report.as_dict())
    if report.aborted:  # the database stopped taking writes: retry the job later
        raise StoreWriteError(report.aborted)
    if stopping.is_set():
        raise Interrupted(
            f"stopped after {report.as_dict()}; the rest is released for another worker"
        )
    return report.as_dict()


async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Requeue the jobs of workers that stopped sending heartbeats (killed, machine lost)."""
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
        log.warning("queue.retry_stalled", job_id=job.id, task=job.task_name)
        await manager.retry_job(job)


async def delete_old_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Drop finished jobs after three days; the deliveries table keeps the real history."""
    await context.app.job_manager.delete_old_jobs(nb_hours=72, queue=QUEUE, include_failed=True)
    log.info("queue.old_jobs_deleted", older_than_hours=72)


@contextmanager
def worker_runtime(runtime: Runtime, *, concurrency: int) -> Iterator[None]:
    global _runtime, _pool
    _runtime = runtime
    _pool = runtime.mailer(connections=max(1, runtime.settings.smtp_connections // concurrency))
    stopping.clear()
    try:
        yield
    finally:
        _pool.close()
        _runtime, _pool = None, None


def run_worker(
    runtime: Runtime, *, concurrency: int, wait: bool = True, name: str | None = None
) -> None:
    """Run a worker until SIGTERM/SIGINT (or, without ``wait``, until the queue is empty).

    On a stop signal the running batches finish the message they are sending, release their
    other claims and return; then the worker exits. The worker process's collector is set for
    the long run first (service/delivery/heap.py).
    """
    ensure_schema(runtime.settings.database_url)
    app = make_app(runtime.settings.database_url)

    async def main() -> None:
        async with app.open_async():
            worker = asyncio.create_task(
                app.run_worker_async(
                    concurrency=concurrency,
                    wait=wait,
                    listen_notify=wait,  # a worker that stops when the queue is empty waits for nothing
                    name=name,
                    install_signal_handlers=False,
                    update_heartbeat_interval=5,
                    stalled_worker_timeout=STALLED_AFTER_SECONDS,
                )  # fmt: skip
            )
            loop = asyncio.get_running_loop()

            def stop() -> None:
                log.info("worker.stopping")
                stopping.set()
                worker.cancel()

            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop)
            try:
                await worker
            except asyncio.CancelledError:
                pass

    with worker_runtime(runtime, concurrency=concurrency):
        settle_heap()
        asyncio.run(main())
