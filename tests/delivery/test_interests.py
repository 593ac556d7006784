"""A reader with several interests: each ranked with its own topics and liked papers, one
section per interest in the email, reasons naming the interest, a paper once; all of it kept
when the digest is sent again by a restarted service."""

from __future__ import annotations

import datetime as dt

from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.delivery.selection import preview
from service.delivery.smtp_mailer import SmtpMailer
from service.ledger.ingest import ingest_file
from service.resources import sample_listings_path
from service.settings import Settings
from service.storage import store
from service.storage.engine import session_scope
from tests.support.smtp_sink import SmtpSink

T0 = dt.datetime(2025, 8, 20, 5, tzinfo=dt.UTC)
NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
EMAIL = "ada@example.org"


def two_interests(runtime: Runtime, max_papers: int = 6) -> None:
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=T0)
    with session_scope(runtime.factory) as session:
        sub = store.add_subscriber(
            session, email=EMAIL, status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=max_papers, topics=[("keyword", "reasoning", 1.0)], now=T0,
        )  # fmt: skip
        store.add_interest(
            session, subscriber=sub, name="Motion", now=T0, topics=[("keyword", "motion", 1.0)]
        )
        # An interest seeded from papers alone: no topic, two papers the reader likes.
        seeded = store.add_interest(session, subscriber=sub, name="Reward models", now=T0)
        liked = [
            (store.find_paper_ids(session, arxiv_id=arxiv_id)[0], title)
            for arxiv_id, title in (("2410.18451", "Skywork-Reward"), ("2410.18252", "Async RLHF"))
        ]
        store.add_interest_likes(session, interest=seeded, likes=liked, now=T0)


def test_two_interests_make_two_sections_whose_reasons_name_them(runtime: Runtime) -> None:
    two_interests(runtime)
    digest, rendered = preview(runtime.pipeline, email=EMAIL, now=NOW)
    names = [p.interest for p in digest.papers]
    order = ["reasoning", "Motion", "Reward models"]
    assert set(names) == set(order)
    assert names == sorted(names, key=order.index)  # grouped, in their order
    ids = [p.paper.paper_id for p in digest.papers]
    assert (
        len(ids) == len(set(ids)) == 6
    )  # 2 each: equal shares  # a paper once, the whole budget used
    for p in digest.papers:
        assert p.reasons[0].label == f"for {p.interest}"
        assert not p.paper.title.startswith(("Skywork", "Asynchronous RLHF"))  # liked: read
    for section in order:
        scores = [p.score for p in digest.papers if p.interest == section]
        assert scores == sorted(scores, reverse=True)
    seeded = [p for p in digest.papers if p.interest == "Reward models"]
    assert seeded and all(
        any(r.label.startswith('like "Skywork') or r.label.startswith('like "Asynchronous')
            for r in p.reasons)
        for p in seeded
    )  # fmt: skip
    assert '<h2 class="section-title"' in rendered.html and ">Motion</h2>" in rendered.html
    assert "\nREASONING\n" in rendered.text and "\nREWARD MODELS\n" in rendered.text
    assert "Why: for Motion;" in rendered.text


def test_one_interest_looks_as_before(runtime: Runtime) -> None:
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=T0)
    with session_scope(runtime.factory) as session:
        store.add_subscriber(
            session, email=EMAIL, status="active", timezone="UTC", delivery_hour=8,
            cadence="daily", max_papers=3, topics=[("keyword", "reasoning", 1.0)], now=T0,
        )  # fmt: skip
    digest, rendered = preview(runtime.pipeline, email=EMAIL, now=NOW)
    assert digest.papers and all(p.interest is None for p in digest.papers)
    assert 'class="section-title"' not in rendered.html
    assert not any(r.label.startswith("for ") for p in digest.papers for r in p.reasons)


def test_sections_survive_a_failed_send_and_a_restart(
    runtime: Runtime, settings: Settings, smtp_sink: SmtpSink
) -> None:
    two_interests(runtime)
    smtp_sink.fail_next(1, "451 4.3.0 later")
    with SmtpMailer(smtp_sink.url) as mailer:
        assert send_due(runtime.pipeline, mailer=mailer, now=NOW).as_dict()["deferred"] == 1
    runtime.engine.dispose()
    restarted = Runtime(settings)
    try:
        with SmtpMailer(smtp_sink.url) as mailer:
            later = NOW + dt.timedelta(minutes=30)
            assert send_due(restarted.pipeline, mailer=mailer, now=later).as_dict()["sent"] == 1
    finally:
        restarted.engine.dispose()
    (message,) = smtp_sink.messages
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "\nREASONING\n" in text and "\nMOTION\n" in text and "\nREWARD MODELS\n" in text
    assert text.index("\nREASONING\n") < text.index("\nMOTION\n")
    assert "Why: for Motion;" in text and "Why: for reasoning;" in text
