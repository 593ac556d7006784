"""A batch's messages are built in a thread of their own, ahead of the senders: every row ends up
handed to the pool, failed (with why) or unsent (released by the caller), exactly one of them."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from service.delivery.builder import Builder
from service.delivery.runtime import Runtime
from service.delivery.smtp_pool import Job
from service.storage import store
from service.storage.engine import session_scope
from tests.delivery.test_send_exactly_once import NOW, message, readers_runtime, send
from tests.support.smtp_sink import SmtpSink

READERS = [f"built{n}@example.org" for n in range(7)]


def build(row: int) -> Job:
    if row == 3:
        raise ValueError("row 3 cannot be rendered")
    return Job(key=row, message=message(f"r{row}@example.org"))


def test_rows_come_out_in_order_and_a_failed_one_is_kept_with_why() -> None:
    with Builder(list(range(6)), build, str, ahead=2) as builder:
        keys = [job.key for job in builder.jobs()]
    assert keys == [0, 1, 2, 4, 5]
    assert [(row, str(exc)) for row, exc in builder.failed] == [(3, "row 3 cannot be rendered")]
    assert builder.unsent == []


@pytest.mark.parametrize("taken", [0, 1, 4])
def test_a_run_that_stops_early_leaves_every_other_row_unsent_once(taken: int) -> None:
    rows = list(range(40))
    with Builder(rows, build, str, ahead=3) as builder:
        handed = [job.key for job in itertools.islice(builder.jobs(), taken)]
    failed = [row for row, _ in builder.failed]
    unsent = builder.unsent
    assert sorted(handed + failed + unsent) == rows  # each row exactly once
    assert handed == [row for row in rows if row != 3][:taken]


def test_a_message_that_cannot_be_built_fails_and_the_rest_of_the_batch_goes_out(
    runtime: Runtime, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    batched = readers_runtime(
        runtime, smtp_sink.url, readers=READERS, smtp_connections=2, send_claim_batch=4
    )
    render = batched.pipeline.renderer.render

    def broken(digest: Any) -> Any:
        if digest.email == READERS[2]:
            raise RuntimeError("template exploded")
        return render(digest)

    monkeypatch.setattr(batched.pipeline.renderer, "render", broken)
    report = send(batched, NOW)
    assert report.sent == len(READERS) - 1 and report.failed == 1
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert "could not build the message: template exploded" in (failed[0].detail or "")
    assert sorted(smtp_sink.accepted) == sorted(r for r in READERS if r != READERS[2])
    with session_scope(batched.factory) as session:
        assert store.count_deliveries_by_status(session) == {"sent": 6, "failed": 1}


def test_ready_says_the_senders_are_behind_only_when_the_queue_is_full() -> None:
    with Builder(list(range(6)), lambda row: Job(key=row, message=message("r@example.org")), str,
                 ahead=2) as builder:  # fmt: skip
        built = builder.jobs()
        while not builder.ready():  # the builder fills its queue of 2, then waits
            pass
        assert next(built).key == 0
        keys = [job.key for job in built]
    assert keys == [1, 2, 3, 4, 5] and not builder.ready()
