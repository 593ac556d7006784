"""The per-reader classifier on paper embeddings (service/ranking/reader_model.py), on made-up vectors."""

from __future__ import annotations

import numpy as np

from service.ranking.reader_model import MIN_VOTES, reader_shift, reader_z

RNG = np.random.default_rng(3)
DIM = 16


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def cluster(centre: int, n: int) -> np.ndarray:
    base = np.zeros(DIM)
    base[centre] = 6.0
    return unit(base + RNG.normal(size=(n, DIM)))


def test_papers_like_the_liked_ones_rise_and_like_the_disliked_ones_fall() -> None:
    candidates = np.vstack([cluster(0, 10), cluster(1, 10), unit(RNG.normal(size=(60, DIM)))])
    has_vector = np.ones(len(candidates), dtype=bool)
    z = reader_z(candidates, has_vector, liked=cluster(0, 4), disliked=cluster(1, 3))
    assert z is not None
    assert z[:10].min() > z[20:].mean() + 1  # the liked kind stands out
    assert z[10:20].max() < z[20:].mean()  # the disliked kind sinks
    shift = reader_shift(z, votes=7)
    assert shift[:10].min() > 0 > shift[10:20].max()


def test_no_classifier_before_a_few_votes_or_without_an_up_vote() -> None:
    candidates = cluster(0, 40)
    has_vector = np.ones(40, dtype=bool)
    few = cluster(0, MIN_VOTES - 1)
    assert reader_z(candidates, has_vector, liked=few, disliked=np.zeros((0, DIM))) is None
    assert (
        reader_z(candidates, has_vector, liked=np.zeros((0, DIM)), disliked=cluster(1, 5)) is None
    )


def test_a_paper_without_a_vector_gets_nothing() -> None:
    candidates = np.vstack([cluster(0, 5), unit(RNG.normal(size=(30, DIM)))])
    has_vector = np.ones(len(candidates), dtype=bool)
    has_vector[0] = False
    z = reader_z(candidates, has_vector, liked=cluster(0, 4), disliked=np.zeros((0, DIM)))
    assert z is not None and z[0] == 0.0 and z[1:5].min() > 1
