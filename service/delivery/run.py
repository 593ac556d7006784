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
from service.subscribers.paper_links import digest_links
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
        """The digest's links (``subscribers.paper_links.digest_links``)."""
        return digest_links(
            self.signer, self.settings.base_url, subscriber_id, paper_ids, papers, interest_ids
        )


Progress = Callable[[int, int], None]  # (digests handled so far, digests to send)
