"""Pure: community signal and freshness of each candidate, normalised over the run's candidates.

Trending T combines four counts, each as log1p(count) divided by the largest over the candidate
set (so one viral paper does not flatten the rest, and 0..1 whatever the day):

    T = 0.5·upvotes + 0.3·velocity + 0.1·stars + 0.1·comments

velocity being the upvotes gained in the last 24 hours (from sightings). A component that is zero
for every candidate (no source reports stars, or no earlier sighting is known) drops out and the
remaining weights are rescaled, so the best paper of the day still scores near 1.

Recency is 0.5 ** (hours since first seen / 48): 1 for a paper seen just now, 0.5 two days later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from service.records import Candidate

TREND_WEIGHTS = {"upvotes": 0.5, "velocity": 0.3, "stars": 0.1, "comments": 0.1}
RECENCY_HALF_LIFE_HOURS = 48.0
VELOCITY_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Signals:
    """Per-candidate community counts and the derived 0..1 trend and recency vectors."""

    upvotes: np.ndarray  # int64
    velocity: np.ndarray | None  # int64 upvotes gained in the last 24 h; None when unknown
    trend: np.ndarray  # float64, 0..1
    recency: np.ndarray  # float64, 0..1


def normalised_log(values: np.ndarray) -> np.ndarray:
    """log1p(values) scaled to 0..1 over the set."""
    logs = np.log1p(np.maximum(values.astype(np.float64), 0.0))
    top = logs.max() if len(logs) else 0.0
    return logs / top if top > 0 else logs


def signals(
    candidates: Sequence[Candidate],
    *,
    now: dt.datetime | None = None,
    upvotes_before: Mapping[int, int] | None = None,
) -> Signals:
    """Trend and recency of each candidate.

    ``upvotes_before`` maps paper id → upvotes at its latest sighting at least 24 hours before
    ``now``; a paper missing from it was first sighted within the window, so all its upvotes are
    recent. Without the mapping velocity is unknown (None) and left out of the trend.
    """
    upvotes = np.asarray([c.upvotes or 0 for c in candidates], dtype=np.int64)
    velocity = None
    if upvotes_before is not None:
        before = np.asarray([upvotes_before.get(c.paper_id, 0) for c in candidates], dtype=np.int64)
        velocity = np.maximum(upvotes - before, 0)
    parts = {
        "upvotes": upvotes,
        "velocity": velocity,
        "stars": np.asarray([c.stars or 0 for c in candidates], dtype=np.int64),
        "comments": np.asarray([c.comments or 0 for c in candidates], dtype=np.int64),
    }
    trend = np.zeros(len(candidates), dtype=np.float64)
    total = 0.0
    for name, values in parts.items():
        if values is not None and len(values) and values.max() > 0:
            trend += TREND_WEIGHTS[name] * normalised_log(values)
            total += TREND_WEIGHTS[name]
    if total:
        trend /= total
    recency = np.ones(len(candidates), dtype=np.float64)
    if now is not None:
        hours = np.asarray(
            [
                (now - c.first_seen).total_seconds() / 3600 if c.first_seen else 0.0
                for c in candidates
            ],
            dtype=np.float64,
        )
        recency = 0.5 ** (np.maximum(hours, 0.0) / RECENCY_HALF_LIFE_HOURS)
    return Signals(upvotes=upvotes, velocity=velocity, trend=trend, recency=recency)


def trending_label(upvotes: int, velocity: int | None) -> str:
    """'trending: 42 upvotes (+30 today)', or without the gain when it is unknown or none."""
    label = f"trending: {upvotes} upvote{'s' if upvotes != 1 else ''}"
    if velocity:
        label += f" (+{velocity} today)"
    return label
