"""The lexical/embedding blend of one keyword topic (service/ranking/hybrid.py), on made-up similarities."""

from __future__ import annotations

import numpy as np
import pytest

from service.ranking.hybrid import blend, semantic_relevance


def spread(*values: float, n: int = 60, background: float = 0.2) -> np.ndarray:
    """A run of n candidates: the given cosines first, the rest around ``background``."""
    rest = background + 0.05 * np.sin(np.arange(n - len(values)))
    return np.concatenate([np.asarray(values), rest])


def test_a_paper_that_stands_out_in_meaning_counts_without_the_words() -> None:
    cosine = spread(0.6)
    relevance = blend(np.zeros(len(cosine)), cosine, np.ones(len(cosine), dtype=bool))
    assert relevance[0] > 0.9
    assert relevance[1:].max() < 0.2  # the day's ordinary papers stay far below any floor


def test_a_high_cosine_that_everything_shares_is_no_evidence() -> None:
    # A long plain-words topic is close to every paper; only what stands out from the day counts.
    cosine = spread(0.6, background=0.45)
    semantic = semantic_relevance(cosine, np.ones(len(cosine), dtype=bool))
    assert semantic[0] > 0.5 and semantic[1:].max() < 0.3


def test_words_and_meaning_agreeing_count_more_than_either() -> None:
    cosine = spread(0.4, 0.4)
    lexical = np.zeros(len(cosine))
    lexical[0] = 0.5
    relevance = blend(lexical, cosine, np.ones(len(cosine), dtype=bool))
    assert relevance[0] > max(0.5, relevance[1])


def test_a_paper_without_a_vector_ranks_on_words_alone() -> None:
    cosine = spread(0.9)
    has_vector = np.ones(len(cosine), dtype=bool)
    has_vector[0] = False
    lexical = np.full(len(cosine), 0.1)
    assert blend(lexical, cosine, has_vector)[0] == pytest.approx(0.1)


def test_few_candidates_use_the_absolute_reading() -> None:
    cosine = np.asarray([0.6, 0.1, 0.12])
    semantic = semantic_relevance(cosine, np.ones(3, dtype=bool))
    assert semantic[0] == 1.0 and semantic[1] == 0.0
