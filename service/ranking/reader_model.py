"""Pure: a small classifier per reader, trained on the embeddings of the papers they voted on.

After a few thumbs up/down (``MIN_VOTES``, at least one up), each subscriber gets a linear
classifier over paper embeddings, as Scholar Inbox found per-user linear models on embeddings to
be its strongest method. It is a ridge classifier (least squares with an L2 penalty), fitted in
its dual form: with k votes that is one k × k solve, so fitting per subscriber per run costs
microseconds. The embeddings are centred on the run's candidates first, so "liked" means "unlike
the average paper of the day in the way the liked ones are". Up votes are +1, down votes −1.

The classifier's score of a candidate is expressed in standard deviations over the run's
candidates (z); ``rank`` adds ``READER_WEIGHT × n / (n + PRIOR_VOTES) × clip(z / 3, −1, 1)`` to
the score, so a few votes nudge and many steer, and a paper with z ≥ ``ADMIT_Z`` may enter the
digest on that alone. The constants were chosen with bench/rank_eval.py's simulated votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_VOTES = 3  # fewer votes than this: no classifier (Rocchio on words still applies)
RIDGE = 1.0  # L2 penalty: with few votes the weights stay near the liked papers' direction
PRIOR_VOTES = 5.0  # confidence n / (n + PRIOR_VOTES)
READER_WEIGHT = 0.5  # weight in the score (relevance is 0..1)
ADMIT_Z = 2.5  # standard deviations above the day's papers from which a paper is picked for it


@dataclass(frozen=True, slots=True)
class Centred:
    """The run's candidate embeddings minus their mean (computed once per run)."""

    matrix: np.ndarray  # float64, one row per candidate
    centre: np.ndarray  # the mean of the rows with a vector


def centred(candidates: np.ndarray, has_vector: np.ndarray) -> Centred:
    """The run's embedding matrix centred on its candidates with a vector."""
    centre = (
        candidates[has_vector].mean(axis=0).astype(np.float64)
        if has_vector.any()
        else np.zeros(candidates.shape[1])
    )
    return Centred(candidates.astype(np.float64) - centre, centre)


def reader_z(
    run: Centred | np.ndarray, has_vector: np.ndarray, liked: np.ndarray, disliked: np.ndarray
) -> np.ndarray | None:
    """The classifier's score of each candidate in standard deviations (None: too few votes).

    ``run`` is the run's embedding matrix (or it centred once, see ``centred``); rows without a
    vector are ignored and score 0. ``liked`` and ``disliked`` are the voted papers' embeddings.
    """
    if len(liked) == 0 or len(liked) + len(disliked) < MIN_VOTES or not has_vector.any():
        return None
    if not isinstance(run, Centred):
        run = centred(run, has_vector)
    x = np.vstack([liked, disliked]).astype(np.float64) - run.centre
    y = np.concatenate([np.ones(len(liked)), -np.ones(len(disliked))])
    alpha = np.linalg.solve(x @ x.T + RIDGE * np.eye(len(y)), y)
    weights = x.T @ alpha
    raw = run.matrix @ weights
    measured = raw[has_vector]
    spread = float(measured.std())
    if spread <= 1e-12:
        return None
    return np.where(has_vector, (raw - float(measured.mean())) / spread, 0.0)


def reader_shift(z: np.ndarray, votes: int) -> np.ndarray:
    """What the classifier adds to each candidate's score for a reader with ``votes`` votes."""
    return READER_WEIGHT * votes / (votes + PRIOR_VOTES) * np.clip(z / 3.0, -1.0, 1.0)
