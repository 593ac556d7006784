"""Pure: a subscriber's thumbs-up / thumbs-down votes as a shift of their ranking (Rocchio).

Every paper is a tf-idf vector over the stemmed words of its title and abstract plus one feature
per author (surname and first initial, accents folded), L2-normalised; ``RelevanceIndex`` builds
these for the run's candidates and for any voted paper. A subscriber's profile is Rocchio's
query update without the original query:

    q = α · mean(liked vectors) − β · mean(disliked vectors),   α = β = 1

and a candidate's feedback score is the dot product q · d (cosine similarity to the liked papers
minus that to the disliked ones, between −1 and 1). Because q is linear in the voted papers, the
score is the average of per-paper similarity vectors, and each voted paper's similarity to every
candidate is computed once per run however many subscribers voted on it. The score is damped by
the number of votes n as n / (n + 2), so one click nudges and a dozen votes steer; ``rank`` adds
it with weight ``FEEDBACK_WEIGHT``. So a liked paper's words and authors gain weight, a disliked
one's lose it, and papers close to a liked paper can enter the digest on that alone
(``ADMIT_SIMILARITY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from service.ranking.index import RelevanceIndex
from service.records import Candidate

ALPHA = 1.0  # weight of the liked papers' centroid
BETA = 1.0  # weight of the disliked papers' centroid: an explicit "less like this" counts as much
PRIOR_VOTES = 2.0  # damping n / (n + PRIOR_VOTES)
FEEDBACK_WEIGHT = 2.0  # how much the feedback score counts in the blend (relevance is 0..1)
ADMIT_SIMILARITY = 0.2  # cosine to a liked paper above which a paper is chosen for that alone


@dataclass(frozen=True, slots=True)
class Votes:
    """One subscriber's votes, with the voted papers as the ranker sees them."""

    liked: tuple[Candidate, ...] = ()
    disliked: tuple[Candidate, ...] = ()
    # Ids among ``liked`` the reader added to an interest ("more like these"), not voted on.
    seeds: frozenset[int] = frozenset()

    def __len__(self) -> int:
        return len(self.liked) + len(self.disliked)

    @classmethod
    def from_mapping(cls, votes: Mapping[int, int], papers: Mapping[int, Candidate]) -> Votes:
        """From ``{paper_id: ±1}`` and the voted papers by id (unknown ids are ignored)."""
        liked = tuple(
            papers[pid] for pid, vote in sorted(votes.items()) if vote > 0 and pid in papers
        )
        disliked = tuple(
            papers[pid] for pid, vote in sorted(votes.items()) if vote < 0 and pid in papers
        )
        return cls(liked, disliked)


@dataclass(frozen=True, slots=True)
class FeedbackScores:
    """Feedback score of every candidate, and each liked paper's similarity for the reasons."""

    score: np.ndarray  # damped q · d per candidate
    liked: tuple[Candidate, ...]
    liked_similarity: np.ndarray  # (len(liked), candidates) cosine

    def closest_liked(self, i: int) -> tuple[Candidate, float] | None:
        """The liked paper most similar to candidate ``i`` and that similarity."""
        if not self.liked:
            return None
        j = int(np.argmax(self.liked_similarity[:, i]))
        return self.liked[j], float(self.liked_similarity[j, i])


def feedback_scores(index: RelevanceIndex, votes: Votes) -> FeedbackScores | None:
    """The Rocchio feedback score of every candidate of ``index`` for these votes (None: no votes)."""
    if not len(votes) or not len(index):
        return None
    score = np.zeros(len(index), dtype=np.float64)
    liked = (
        np.stack([index.similarity(p) for p in votes.liked])
        if votes.liked
        else np.zeros((0, len(index)))
    )
    if votes.liked:
        score += ALPHA * liked.mean(axis=0)
    if votes.disliked:
        score -= BETA * np.mean([index.similarity(p) for p in votes.disliked], axis=0)
    n = len(votes)
    return FeedbackScores(score * (n / (n + PRIOR_VOTES)), votes.liked, liked)
