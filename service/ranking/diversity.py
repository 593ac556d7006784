"""Maximal marginal relevance: pick a digest that is good and not five copies of one paper.

Pure: given candidate positions, their scores and a way to get one paper's similarity to every
candidate, return the chosen positions in pick order. Each step takes the candidate with the best
``LAMBDA × score − (1 − LAMBDA) × (its highest similarity to a paper already chosen)`` (Carbonell &
Goldstein, 1998). With no near neighbours it is the plain top N by score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

LAMBDA = 0.8  # weight of the score against the similarity to what is already in the digest


def diverse_top(
    pool: Sequence[int],
    score: np.ndarray,
    similarity: Callable[[int], np.ndarray],
    n: int,
    *,
    lam: float = LAMBDA,
) -> list[int]:
    """Up to ``n`` positions of ``pool`` (best first by ``score``) chosen by MMR.

    ``similarity(i)`` gives paper ``i``'s similarity to every paper of the index (0..1), indexed
    like ``score``. The first pick is always the best-scored one; ties keep ``pool``'s order.
    """
    if n <= 0 or not len(pool):
        return []
    if len(pool) <= n:  # every candidate is taken: nothing to choose between
        return [int(i) for i in pool]
    positions = np.asarray(pool, dtype=np.int64)
    relevance = lam * score[positions]
    closest = np.zeros(len(positions), dtype=np.float64)
    taken = np.zeros(len(positions), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < min(n, len(positions)):
        value = np.where(taken, -np.inf, relevance - (1 - lam) * closest)
        best = int(np.argmax(value))  # the first of equals: pool order breaks ties
        taken[best] = True
        chosen.append(int(positions[best]))
        closest = np.maximum(closest, similarity(chosen[-1])[positions])
    return chosen
