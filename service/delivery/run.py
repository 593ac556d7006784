"""What one send run shares and what it reports: the ``Pipeline`` (settings, sessions, renderer,
signer, built once per run), one subscriber's ``Outcome`` and the run's ``SendReport``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from service.digest.render import Renderer
from service.records import DigestLinks, ScoredPaper
from service.settings import Settings
from service.subscribers.paper_links import digest_token, feedback_url, steer_url
from service.subscribers.steering import steer_choices, steer_label
from service.subscribers.tokens import Signer


@dataclass(slots=True)
class Outcome:
    email: str
    status: str  # sent, skipped, failed, deferred, missed, in_doubt, would_send, left
    detail: str = ""
    papers: int = 0


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    deferred: int = 0
    missed: int = 0
    in_doubt: int = 0  # went out, no reply to its end: maybe delivered, never resent
    dry_run: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    paused: str | None = None  # why the circuit breaker stopped the run, if it did
    aborted: str | None = None  # why the run stopped at once (the database refused a write)
    left: int = 0  # ready digests this run did not try (breaker or per-run cap): still open
    queued: int | None = None  # with the procrastinate queue: deliveries handed to workers
    jobs: int = 0  # ... in this many jobs

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        counter = {"would_send": "sent"}.get(outcome.status, outcome.status)
        setattr(self, counter, getattr(self, counter) + 1)

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "sent": self.sent, "deferred": self.deferred, "failed": self.failed,
            "skipped": self.skipped, "missed": self.missed,
        }  # fmt: skip
        if self.in_doubt:
            data["in_doubt"] = self.in_doubt
        if self.dry_run:
            data["dry_run"] = True
        if self.paused:
            data["paused"] = self.paused
        if self.aborted:
            data["aborted"] = self.aborted
        if self.left:
            data["left"] = self.left
        if self.queued is not None:
            data["queued"] = self.queued
            data["jobs"] = self.jobs
        return data


@dataclass(slots=True)
class Pipeline:
    """What one run needs, built once per run and shared by every subscriber."""

    settings: Settings
    factory: sessionmaker[Session]
    renderer: Renderer
    signer: Signer

    def links(
        self, subscriber_id: int, paper_ids: Sequence[int], papers: Sequence[ScoredPaper] = (),
        interest_ids: Mapping[str, int] | None = None,
    ) -> DigestLinks:  # fmt: skip
        """The digest's links; ``papers`` (the picks) get "mute" / "not interested" ones.

        Every paper link carries the digest's one signed token, the action in its query
        (``subscribers.paper_links``). A pick's links name the interest it was picked for (``i``,
        from ``interest_ids``: name → id), so "more like this" and an exclude land on that
        interest."""
        base = self.settings.base_url
        token = digest_token(self.signer, subscriber_id)
        ids = interest_ids or {}
        picked_for = {
            scored.paper.paper_id: ids[scored.interest]
            for scored in papers
            if scored.interest is not None and scored.interest in ids
        }
        steer = {
            scored.paper.paper_id: tuple(
                (steer_label(kind, text), steer_url(base, token, scored.paper.paper_id, kind, text, picked_for.get(scored.paper.paper_id)))
                for kind, text in steer_choices(scored)
            )
            for scored in papers
        }  # fmt: skip
        feedback = {
            pid: (
                feedback_url(base, token, pid, 1, picked_for.get(pid)),
                feedback_url(base, token, pid, -1, picked_for.get(pid)),
            )
            for pid in paper_ids
        }
        manage = self.signer.make("manage", s=subscriber_id)
        return DigestLinks(
            manage=f"{base}/manage/{manage}",
            unsubscribe=f"{base}/unsubscribe/{self.signer.make('unsubscribe', s=subscriber_id)}",
            feedback=feedback,  # type: ignore[arg-type]
            archive=f"{base}/archive/{manage}",
            steer=steer,
        )


Progress = Callable[[int, int], None]  # (digests handled so far, digests to send)
