"""Pure ranking: candidate papers × one subscriber's preferences → a short, explained digest.

docs/ranking.md explains every component and the blend; in short:

* Each topic's relevance comes from the run's ``RelevanceIndex`` (service/ranking/index.py).
  A topic counts when its relevance passes the subscriber's floor; the topics combine as a
  weighted noisy-or, R = 1 − Π (1 − rel_t) ** weight_t, which stays in 0..1.
* Score = (1 − s)·R + s·T + 0.1·recency + feedback, s being the subscriber's trending share and T
  the community signal normalised over the candidates (service/ranking/trend.py); feedback is the Rocchio
  score of their votes (service/ranking/feedback.py).
* ⌊s × max papers⌋ slots go to the most trending papers that did not make it on relevance; a
  subscriber without topics gets trending papers only. Exclude topics and already sent papers
  never appear.
* Every topic with a match gets its best paper (``_cover_topics``), and every pick says why
  (``_reason``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from service.ranking.authors import author_matches
from service.ranking.diversity import diverse_top
from service.ranking.feedback import (
    ADMIT_SIMILARITY,
    FEEDBACK_WEIGHT,
    FeedbackScores,
    Votes,
    feedback_scores,
)
from service.ranking.index import RelevanceIndex
from service.ranking.reader_model import ADMIT_Z, reader_shift
from service.ranking.trend import trending_label
from service.records import Candidate, Reason, ScoredPaper, Topic

RECENCY_WEIGHT = 0.1  # fresher first among equals; matters for weekly digests
# A trending pick must be at least this share of the floor relevant to the reader's topics; else
# at most one trending paper, labelled as off their topics, goes in (the same few trending papers
# once took two places in every digest, whatever the topics).
ON_TOPIC_SHARE_OF_FLOOR = 0.5
MAX_OFF_TOPIC_TRENDING = 1
POOL_FACTOR = 3  # MMR chooses the digest among the best POOL_FACTOR × max papers
# A paper this close in words to one the reader added to an interest ("more like these") is
# relevant to it, as if it matched a topic; lower than a vote's ADMIT_SIMILARITY because the
# reader asked for exactly that.
SEED_SIMILARITY = 0.1


def rank(
    index: RelevanceIndex,
    *,
    topics: Iterable[Topic],
    eligible: Collection[int] | None = None,
    since: dt.datetime | None = None,
    already_sent: Collection[int] = (),
    max_papers: int = 10,
    floor: float = 0.3,
    trending_share: float = 0.0,
    votes: Votes | None = None,
) -> list[ScoredPaper]:
    """The top ``max_papers`` papers for one subscriber, best first, each with its reasons.

    Candidates are the index's papers first seen at or after ``since`` (None: all), limited to the
    ids in ``eligible`` (None: all); papers in ``already_sent`` and papers matching an exclude topic
    are never returned. Relevance picks come first, then up to ⌊trending_share × max_papers⌋
    trending picks; with no positive topic, every pick is a trending one.
    """
    topics = list(topics)
    excludes = [t for t in topics if t.kind == "exclude"]
    positives = [t for t in topics if t.kind != "exclude" and t.weight > 0]
    if not len(index) or max_papers <= 0:
        return []
    keep = np.ones(len(index), dtype=bool)
    if since is not None:
        keep &= index.seen_since(since)
    if eligible is not None:
        keep &= index.mask(eligible)
    if already_sent:
        keep &= ~index.mask(already_sent)
    for topic in excludes:
        keep &= ~index.excluded(topic.text)
    fb = feedback_scores(index, votes) if votes is not None else None
    shift = FEEDBACK_WEIGHT * fb.score if fb is not None else 0.0
    reader = index.reader_z(votes.liked, votes.disliked) if votes is not None else None
    if reader is not None:
        shift = shift + reader_shift(reader, len(votes))  # type: ignore[arg-type]
    base = RECENCY_WEIGHT * index.recency + shift
    picks: list[tuple[int, float, str]] = []  # (paper index, score, why: "relevant" or "trending")
    if positives or (fb is not None and fb.liked):
        # Topics or liked papers (an interest seeded from papers may have no topic) pick.
        share = min(max(trending_share, 0.0), 1.0)
        log_miss = np.zeros(len(index), dtype=np.float64)
        matched = np.zeros(len(index), dtype=bool)
        for topic in positives:
            evidence = index.evidence(topic, floor)
            log_miss += topic.weight * evidence.log_miss
            matched |= evidence.hit
        if fb is not None and fb.liked:
            matched |= fb.liked_similarity.max(axis=0) >= ADMIT_SIMILARITY
            seeded = _seed_similarity(fb, votes)  # type: ignore[arg-type]
            if seeded is not None:
                near_seed = seeded >= SEED_SIMILARITY
                matched |= near_seed
                log_miss += np.where(near_seed, np.log1p(-np.minimum(seeded, 0.999)), 0.0)
        if reader is not None:
            matched |= reader >= ADMIT_Z
        score = (1 - share) * (1 - np.exp(log_miss)) + share * index.trend + base
        n_trending = math.floor(share * max_papers + 1e-9)
        pool = _top(index, np.flatnonzero(keep & matched), score, POOL_FACTOR * max_papers)
        relevant = diverse_top(pool, score, index.similarity_at, max_papers)
        chosen = relevant[: max_papers - n_trending]
        trending: list[int] = []
        off_topic: list[int] = []
        trend_score = index.trend + base
        if n_trending:
            rest = keep & (index.trend > 0)
            rest[chosen] = False
            near = index.raw_relevance(positives) >= max(ON_TOPIC_SHARE_OF_FLOOR * floor, 1e-6)
            trending = _top(index, np.flatnonzero(rest & near), trend_score, n_trending)
            if len(trending) < n_trending:
                off_topic = _top(
                    index,
                    np.flatnonzero(rest & ~near),
                    trend_score,
                    min(MAX_OFF_TOPIC_TRENDING, n_trending - len(trending)),
                )
        # Trending slots nobody can fill go back to relevant papers.
        chosen = relevant[: max_papers - len(trending) - len(off_topic)]
        chosen = _cover_topics(index, chosen, positives, floor, keep, score)
        picks += [(i, float(score[i]), "relevant") for i in chosen]
        picks += [(i, float(trend_score[i]), "trending") for i in trending]
        picks += [(i, float(trend_score[i]), "off_topic") for i in off_topic]
    else:
        score = index.trend + base
        picks = [
            (i, float(score[i]), "trending")
            for i in _top(index, np.flatnonzero(keep), score, max_papers)
        ]
    result = []
    for i, value, why in picks:
        paper = index.candidates[i]
        if why == "relevant":
            reasons = [
                _reason(index, topic, i, paper, floor)
                for topic in positives
                if index.evidence(topic, floor).hit[i]
            ]
        else:
            velocity = int(index.velocity[i]) if index.velocity is not None else None
            if paper.upvotes:
                label = trending_label(paper.upvotes, velocity)
            else:
                label = "new today"
            if why == "off_topic":
                label += ", off your topics"
            reasons = [Reason(label)]
            reasons += [
                _reason(index, topic, i, paper, floor)
                for topic in positives
                if index.evidence(topic, floor).hit[i]
            ]
            if (
                why == "trending" and positives and len(reasons) == 1
            ):  # near a topic, below its floor: say which
                nearest = max(positives, key=lambda t: float(index.relevance(t)[i]))
                reasons.append(Reason(f'near "{nearest.text}"', topic=nearest.text, terms=()))
        if fb is not None and (closest := fb.closest_liked(i)) is not None:
            liked, similarity = closest
            seed = votes is not None and liked.paper_id in votes.seeds
            if similarity >= (SEED_SIMILARITY if seed else ADMIT_SIMILARITY):
                label = (
                    f'like "{liked.title}"' if seed else f'like "{liked.title}", which you liked'
                )
                reasons.append(Reason(label, topic=None, terms=()))
        result.append(ScoredPaper(paper, round(value, 6), tuple(reasons)))
    return result


def _seed_similarity(fb: FeedbackScores, votes: Votes) -> np.ndarray | None:
    """Each candidate's highest similarity to the papers added to the interest (None: none)."""
    rows = [k for k, paper in enumerate(fb.liked) if paper.paper_id in votes.seeds]
    if not rows:
        return None
    return fb.liked_similarity[rows].max(axis=0)


def _cover_topics(
    index: RelevanceIndex,
    chosen: list[int],
    topics: Sequence[Topic],
    floor: float,
    keep: np.ndarray,
    score: np.ndarray,
) -> list[int]:
    """Give every topic with a match its best paper, in place of the weakest redundant picks.

    Relevance picks follow the blended score, so one strong interest ("reinforcement learning")
    can fill a digest while another one the reader asked for ("category:cs.CL") never shows.
    A topic with no pick among ``chosen`` gets its best-scored match; the pick it replaces is the
    lowest-scored one whose every topic keeps another pick (never a topic's only paper).
    """
    chosen = list(chosen)
    hits = [index.evidence(topic, floor).hit for topic in topics]
    for t, hit in enumerate(hits):
        if not chosen or any(hit[i] for i in chosen):
            continue
        options = np.flatnonzero(keep & hit)
        options = options[~np.isin(options, chosen)]
        if not len(options):
            continue
        best = int(options[np.argmax(score[options])])
        for position in sorted(range(len(chosen)), key=lambda k: score[chosen[k]]):
            i = chosen[position]
            others = [k for k in range(len(chosen)) if k != position]
            if all(
                not hits[u][i] or any(hits[u][chosen[k]] for k in others)
                for u in range(len(hits))
                if u != t
            ):
                chosen[position] = best
                break
    return sorted(chosen, key=lambda i: -score[i])


def _top(index: RelevanceIndex, candidates: np.ndarray, score: np.ndarray, n: int) -> list[int]:
    """The ``n`` best of ``candidates`` by score, then upvotes, then the oldest id (stable, explainable)."""
    if n <= 0 or not len(candidates):
        return []
    if len(candidates) > 4 * n:  # only sort the few that can make it
        cut = np.argpartition(-score[candidates], n - 1)[:n]
        threshold = score[candidates[cut]].min()
        candidates = candidates[score[candidates] >= threshold]
    order = np.lexsort(
        (index.ids[candidates], -index.upvotes[candidates], -np.round(score[candidates], 6))
    )
    return [int(i) for i in candidates[order[:n]]]


def _reason(index: RelevanceIndex, topic: Topic, i: int, paper: Candidate, floor: float) -> Reason:
    """Why ``topic`` counts for paper ``i``: its words when they carry it, else its meaning."""
    if topic.kind == "category":
        return Reason(f"in {topic.text}", topic=topic.text, terms=(topic.text,))
    if topic.kind == "author":
        names = tuple(a for a in paper.authors if author_matches(topic.text, a))
        return Reason(f"by {names[0] if names else topic.text}", topic=topic.text, terms=names)
    match = index.match(topic.text)
    words = index.matched_words(match, i)
    if match.terms and len(words) == len(match.terms):
        return Reason(f'matches "{topic.text}"', topic=topic.text, terms=words)
    if words and (match.relevance[i] >= floor or index.semantic is None):
        return Reason(
            f'partly matches "{topic.text}" ({", ".join(words)})', topic=topic.text, terms=words
        )
    label = f'close in meaning to "{topic.text}"'
    quote = index.closest_sentence(i, topic.text) if index.semantic is not None else None
    if quote:
        label += f": “{quote}”"
    return Reason(label, topic=topic.text, terms=())
