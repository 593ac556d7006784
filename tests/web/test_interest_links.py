"""The links under a paper picked for one of several interests name that interest: "More like
this" (in the email and on the archive page) makes the paper a liked paper of it, and "Mute" /
"Not interested in" add the exclude to it, not to the reader's first interest."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from service.delivery.planning import send_due
from service.delivery.runtime import Runtime
from service.delivery.selection import preview
from service.storage import store
from service.storage.engine import session_scope
from tests.delivery.test_interests import EMAIL, NOW, two_interests
from tests.support.web_helpers import press


def interest(runtime: Runtime, name: str):  # type: ignore[no-untyped-def]
    with session_scope(runtime.factory) as session:
        sub = store.get_subscriber(session, email=EMAIL)
        (row,) = [r for r in store.list_interests(session, subscriber_id=sub.id) if r.name == name]
        return row


def test_more_like_this_and_steering_land_on_the_picks_interest(
    runtime: Runtime, client: TestClient
) -> None:
    two_interests(runtime)
    digest, rendered = preview(runtime.pipeline, email=EMAIL, now=NOW)
    motion = next(p for p in digest.papers if p.interest == "Motion")
    pid = motion.paper.paper_id
    up, down = digest.links.feedback[pid]
    assert html.escape(up) in rendered.html
    assert interest(runtime, "Motion").likes == ()

    done = press(client, up)
    assert "liked paper of your interest “Motion”" in done
    assert [lk.paper_id for lk in interest(runtime, "Motion").likes] == [pid]
    assert [lk.title for lk in interest(runtime, "Motion").likes] == [motion.paper.title]
    assert all(lk.paper_id != pid for lk in interest(runtime, "reasoning").likes)
    press(client, up)  # twice is once
    assert len(interest(runtime, "Motion").likes) == 1
    press(client, down)  # a "less like this" records the vote only
    assert len(interest(runtime, "Motion").likes) == 1

    # "Not interested in" a pick of the third interest: the exclude goes to that interest.
    seeded = next(p for p in digest.papers if p.interest == "Reward models")
    label, url = digest.links.steer[seeded.paper.paper_id][-1]
    assert "Not interested in" in label or "Mute" in label
    press(client, url)
    excludes = [t for t in interest(runtime, "Reward models").topics if t.kind == "exclude"]
    assert len(excludes) == 1
    assert [t.kind for t in interest(runtime, "reasoning").topics] == ["keyword"]
    assert [t.kind for t in interest(runtime, "Motion").topics] == ["keyword"]


def test_more_like_this_on_the_archive_page(runtime: Runtime, client: TestClient) -> None:
    two_interests(runtime)
    report = send_due(runtime.pipeline, mailer=runtime.mailer(), now=NOW).as_dict()
    assert report["sent"] == 1, report
    with session_scope(runtime.factory) as session:
        sub_id = store.get_subscriber(session, email=EMAIL).id
    page = client.get(f"/archive/{runtime.signer.make('manage', s=sub_id)}")
    assert page.status_code == 200
    links = re.findall(r'<a class="meta more-like" href="([^"]+)">More like this</a>', page.text)
    assert len(links) == 6
    # The third paper is the first of the second section, Motion.
    done = press(client, links[2].replace("&amp;", "&"))
    assert "liked paper of your interest “Motion”" in done
    assert len(interest(runtime, "Motion").likes) == 1
