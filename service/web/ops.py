"""``/healthz`` for probes and ``/metrics`` in the Prometheus text format, only with the bearer
token ``PAPERBOY_METRICS_TOKEN`` (unset: 404)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from service import logs
from service.statuses import DELIVERY_STATUSES, SUBSCRIBER_STATUSES
from service.storage import store
from service.web.deps import SessionDep, SettingsDep

log = logs.get_logger(__name__)


def metrics_text(
    *,
    subscribers: dict[str, int],
    deliveries: dict[str, int],
    ingests: dict[str, tuple[object, object]],
) -> bytes:
    """The exposition of these counts; every known status appears, at 0 when it has no rows."""
    registry = CollectorRegistry(auto_describe=True)
    subs = Gauge("paperboy_subscribers", "Subscribers by status.", ["status"], registry=registry)
    for status in sorted(set(SUBSCRIBER_STATUSES) | set(subscribers)):
        subs.labels(status=status).set(subscribers.get(status, 0))
    dels = Gauge(
        "paperboy_deliveries",
        "Deliveries (one per subscriber and digest date) by status.",
        ["status"],
        registry=registry,
    )
    for status in sorted(set(DELIVERY_STATUSES) | set(deliveries)):
        dels.labels(status=status).set(deliveries.get(status, 0))
    last = Gauge(
        "paperboy_last_ingest_timestamp_seconds",
        "Start of the latest finished ingest run, per source.",
        ["source"],
        registry=registry,
    )
    clean = Gauge(
        "paperboy_last_successful_ingest_timestamp_seconds", "Start of the latest ingest run without error, per source.",
        ["source"], registry=registry,
    )  # fmt: skip
    for source, (finished, ok) in ingests.items():
        if finished is not None:
            last.labels(source=source).set(finished.timestamp())  # type: ignore[attr-defined]
        if ok is not None:
            clean.labels(source=source).set(ok.timestamp())  # type: ignore[attr-defined]
    return generate_latest(registry)


router = APIRouter()


@router.get("/healthz")
def healthz(session: SessionDep) -> Response:
    try:
        # A read of each main table, not "SELECT 1": a damaged file answers that one.
        store.touch_database(session)
    except Exception as exc:  # the probe must answer, not crash
        log.error("healthz_failed", error=str(exc))
        return JSONResponse({"status": "error", "database": "failing"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
def metrics(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    # Counts by status would tell a watcher when someone subscribes: a token, or no page.
    token = settings.metrics_token
    if not token:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        return JSONResponse(
            {"detail": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    body = metrics_text(
        subscribers=store.count_subscribers_by_status(session),
        deliveries=store.count_deliveries_by_status(session),
        ingests=store.last_ingest_per_source(session),
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
