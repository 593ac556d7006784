"""Pure: one keyword topic's relevance from its lexical match and its embedding similarity.

Inputs per candidate: the lexical relevance (BM25-based, 0..1, service/ranking/rank.py) and the cosine
similarity of the topic's and the paper's embeddings. Cosine is read two ways, because its scale
moves with the query (a long plain-words topic is 0.1 closer to everything than a two-word one):

* absolute: (c − ABS_LOW) / (ABS_HIGH − ABS_LOW), clipped to 0..1;
* relative to the run: how many standard deviations above the candidates' mean the paper is,
  (z − Z_LOW) / (Z_HIGH − Z_LOW), clipped, once there are enough candidates to measure it.

The semantic relevance is the smaller of the two (close in absolute terms *and* standing out from
the day's papers), and the topic's relevance is the noisy-or of the lexical and semantic ones,
1 − (1 − lex)(1 − sem)^SEMANTIC_WEIGHT, so agreement between words and meaning counts most. The
constants were chosen on the tuning half of bench/rank_eval.py's labelled topics
(bench/tune_blend.py); docs/ranking.md has the figures.
"""

from __future__ import annotations

import numpy as np

ABS_LOW = 0.15  # cosine at or below which a paper gets no semantic relevance
ABS_HIGH = 0.55  # cosine from which the absolute reading is full
Z_LOW = 1.0  # standard deviations above the run's mean at which the relative reading starts
Z_HIGH = 2.5  # and is full
MIN_FOR_RELATIVE = 30  # fewer candidates than this: the absolute reading alone
SEMANTIC_WEIGHT = 1.5  # exponent of the semantic term in the noisy-or


def semantic_relevance(cosine: np.ndarray, has_vector: np.ndarray) -> np.ndarray:
    """0..1 relevance of each candidate from its cosine similarity (0 where it has no vector)."""
    absolute = np.where(
        has_vector, np.clip((cosine - ABS_LOW) / (ABS_HIGH - ABS_LOW), 0.0, 1.0), 0.0
    )
    measured = cosine[has_vector]
    if len(measured) < MIN_FOR_RELATIVE or float(measured.std()) <= 1e-9:
        return absolute
    z = (cosine - float(measured.mean())) / float(measured.std())
    relative = np.clip((z - Z_LOW) / (Z_HIGH - Z_LOW), 0.0, 1.0)
    return np.minimum(absolute, relative)


def blend(lexical: np.ndarray, cosine: np.ndarray, has_vector: np.ndarray) -> np.ndarray:
    """The topic's relevance: lexical and semantic relevance combined (no vector: lexical alone)."""
    semantic = semantic_relevance(cosine, has_vector)
    return 1.0 - (1.0 - lexical) * (1.0 - semantic) ** SEMANTIC_WEIGHT
