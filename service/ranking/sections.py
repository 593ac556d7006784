"""Pure: a digest made of several interests, each ranked on its own (``rank``), into sections.

Each interest has a share of the digest's ``max_papers`` (its own, or an equal part of what the
interests with a share leave). A paper that two interests picked goes to the one that scored it
higher; slots an interest cannot fill go to the best remaining picks of the others. The result is
grouped by interest in the reader's order, best first within each, every pick carrying its
interest's name and a reason that names it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from service.records import Candidate, Reason, ScoredPaper, Topic


@dataclass(frozen=True, slots=True)
class InterestSpec:
    """One interest as the ranker sees it: its name, topics, share (None: equal) and the papers
    the reader added to it ("more like these")."""

    name: str
    topics: tuple[Topic, ...] = ()
    share: float | None = None
    liked: tuple[Candidate, ...] = ()


def quotas(max_papers: int, shares: Sequence[float | None]) -> list[int]:
    """Slots per interest summing to ``max_papers`` (largest remainder).

    Given shares are used as they are (scaled down if they add up to more than 1); the interests
    without one split what is left equally (or, if nothing is left, share as if all were equal).
    """
    if not shares:
        return []
    given = sum(s for s in shares if s is not None)
    free = [s is None for s in shares]
    rest = max(0.0, 1.0 - given)
    if given > 1:
        weights = [(s or 0.0) / given for s in shares]
    elif any(free):
        part = rest / sum(free) if rest > 0 else 0.0
        weights = [part if s is None else s for s in shares]
    else:
        weights = [s / given if given else 0.0 for s in shares]  # type: ignore[operator]
    if sum(weights) <= 0:
        weights = [1.0 / len(shares)] * len(shares)
    total = sum(weights)
    exact = [max_papers * w / total for w in weights]
    slots = [math.floor(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda k: (-(exact[k] - slots[k]), k))
    for k in order[: max_papers - sum(slots)]:
        slots[k] += 1
    return slots


def _fill(
    names: Sequence[str],
    mine: list[list[ScoredPaper]],
    picks: Sequence[Sequence[ScoredPaper]],
    max_papers: int,
    shares: Sequence[float | None] | None = None,
) -> list[ScoredPaper]:
    slots = quotas(max_papers, shares if shares is not None else [None] * len(names))
    taken: dict[int, int] = {}  # paper id -> interest
    chosen: list[list[ScoredPaper]] = [[] for _ in names]
    for k, ranked in enumerate(mine):
        for scored in ranked[: slots[k]]:
            taken[scored.paper.paper_id] = k
            chosen[k].append(scored)
    left = max_papers - sum(len(c) for c in chosen)
    spare = sorted(
        ((s, k) for k, ranked in enumerate(picks) for s in ranked),
        key=lambda pair: (-pair[0].score, pair[1]),
    )
    for scored, k in spare:
        if left <= 0:
            break
        if scored.paper.paper_id in taken:
            continue
        taken[scored.paper.paper_id] = k
        chosen[k].append(scored)
        left -= 1
    out: list[ScoredPaper] = []
    for k, name in enumerate(names):
        for scored in sorted(chosen[k], key=lambda s: -s.score):
            out.append(
                dataclasses.replace(
                    scored, interest=name, reasons=(Reason(f"for {name}"), *scored.reasons)
                )
            )
    return out


def combine(
    interests: Sequence[InterestSpec], picks: Sequence[Sequence[ScoredPaper]], max_papers: int
) -> list[ScoredPaper]:
    """The digest of several interests from each one's ranked picks (in the same order), each
    ranked with the whole ``max_papers`` so that spare picks can fill unused slots."""
    best: dict[int, tuple[float, int]] = {}
    for k, ranked in enumerate(picks):
        for scored in ranked:
            pid = scored.paper.paper_id
            if pid not in best or scored.score > best[pid][0]:
                best[pid] = (scored.score, k)
    mine = [[s for s in ranked if best[s.paper.paper_id][1] == k] for k, ranked in enumerate(picks)]
    return _fill([i.name for i in interests], mine, picks, max_papers, [i.share for i in interests])
