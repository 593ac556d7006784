"""Pure ranking: candidate papers × one subscriber's topics → a short, explained digest.

Relevance of a keyword topic is BM25 (bm25s, with Snowball stemming and English stop words)
over title + abstract, divided by what a paper scores that uses every term of the topic once in an
abstract of average length (the sum of the terms' IDFs over 1 + k1, as Lucene's BM25 leaves out the
k1 + 1 factor). That ratio r is 1.0 for such a paper, more when it uses the terms often, and small
when it only shares a common word: it is comparable across days and topics, so one relevance
floor works for everybody. Relevance is tanh(r) × coverage, where coverage is the share of the
topic's IDF mass that the paper contains: 0.76 for that paper, near 1 for heavy use, and a paper
that shares only the common half of "video generation" is discounted twice, so a multi-word topic
asks for all of its words without demanding an exact phrase. It stays within 0..1 without the
ties a hard cap would make.

One ``RelevanceIndex`` is built per run over every candidate of the run, and each distinct topic
text is scored once per run however many subscribers share it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer

from service.records import Candidate, Reason, ScoredPaper, Topic

# A paper in the ranked list for a topic-less subscriber is there for its community signal alone.
TRENDING_TIEBREAK = 0.05


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Relevance of one topic text to every paper of the index."""

    relevance: np.ndarray  # float, 0..1, one per paper
    terms: tuple[tuple[str, str], ...]  # (stem, the word as the subscriber wrote it)


class RelevanceIndex:
    """BM25 index over one run's candidates; topic scores are memoised per topic text."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)
        self.position = {c.paper_id: i for i, c in enumerate(self.candidates)}
        self._stemmer = Stemmer.Stemmer("english")
        texts = [f"{c.title}\n{c.abstract}" for c in self.candidates]
        tokenized = bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)
        inverse = {i: token for token, i in tokenized.vocab.items()}
        self._doc_terms = [frozenset(inverse[i] for i in ids) for ids in tokenized.ids]
        postings: dict[str, list[int]] = {}
        for doc, terms in enumerate(self._doc_terms):
            for term in terms:
                postings.setdefault(term, []).append(doc)
        self._postings = {term: np.asarray(docs, dtype=np.int64) for term, docs in postings.items()}
        self._bm25: bm25s.BM25 | None = None
        if self.candidates and tokenized.vocab:
            self._bm25 = bm25s.BM25()
            self._bm25.index(tokenized, show_progress=False)
        self._cache: dict[str, TopicMatch] = {}
        self._kind_cache: dict[tuple[str, str], np.ndarray] = {}
        self._exclude_cache: dict[str, np.ndarray] = {}
        self._ids = np.asarray([c.paper_id for c in self.candidates], dtype=np.int64)
        self.upvotes = np.asarray([c.upvotes or 0 for c in self.candidates], dtype=np.int64)
        self.trend = _normalised_log(self.upvotes)

    def __len__(self) -> int:
        return len(self.candidates)

    def _idf(self, term: str) -> float:
        n, df = len(self.candidates), len(self._postings.get(term, ()))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _query_terms(self, text: str) -> tuple[tuple[str, str], ...]:
        words = bm25s.tokenize([text], stopwords="en", return_ids=False, show_progress=False)[0]
        seen: dict[str, str] = {}
        for word in words:
            seen.setdefault(self._stemmer.stemWord(word), word)
        return tuple(seen.items())

    def match(self, text: str) -> TopicMatch:
        """Relevance of ``text`` to every paper (memoised: once per distinct text per run)."""
        key = " ".join(text.casefold().split())
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        terms = self._query_terms(key)
        relevance = np.zeros(len(self.candidates), dtype=np.float64)
        if terms and self._bm25 is not None:
            raw = self._bm25.get_scores([stem for stem, _ in terms]).astype(np.float64)
            idf = {stem: self._idf(stem) for stem, _ in terms}
            total = sum(idf.values())
            covered = np.zeros(len(self.candidates), dtype=np.float64)
            for stem, weight in idf.items():
                docs = self._postings.get(stem)
                if docs is not None:
                    covered[docs] += weight
            relevance = np.tanh(raw / (total / (1 + self._bm25.k1))) * (covered / total)
        result = TopicMatch(relevance, terms)
        self._cache[key] = result
        return result

    def matched_words(self, match: TopicMatch, index: int) -> tuple[str, ...]:
        """The topic's words (as written) that paper ``index`` contains."""
        terms = self._doc_terms[index]
        return tuple(word for stem, word in match.terms if stem in terms)

    def relevance(self, topic: Topic) -> np.ndarray:
        """Relevance of one topic of any kind to every paper (memoised per kind and text)."""
        if topic.kind not in ("category", "author"):
            return self.match(topic.text).relevance
        key = (topic.kind, topic.text.casefold())
        cached = self._kind_cache.get(key)
        if cached is None:
            if topic.kind == "category":
                hits = [key[1] in {c.casefold() for c in paper.categories} for paper in self.candidates]
            else:
                hits = [any(author_matches(topic.text, a) for a in paper.authors) for paper in self.candidates]
            cached = self._kind_cache[key] = np.asarray(hits, dtype=np.float64)
        return cached

    def excluded(self, text: str) -> np.ndarray:
        """Papers that contain every term of ``text`` (how an exclude topic matches), memoised."""
        key = " ".join(text.casefold().split())
        cached = self._exclude_cache.get(key)
        if cached is None:
            terms = self.match(key).terms
            count = np.zeros(len(self.candidates), dtype=np.int64)
            for stem, _word in terms:
                docs = self._postings.get(stem)
                if docs is not None:
                    count[docs] += 1
            cached = self._exclude_cache[key] = (count == len(terms)) & bool(terms)
        return cached

    def mask(self, paper_ids: Collection[int]) -> np.ndarray:
        """True for the papers of the index whose id is in ``paper_ids``."""
        return np.isin(self._ids, np.fromiter(paper_ids, dtype=np.int64, count=len(paper_ids)))


def _normalised_log(values: Sequence[int]) -> np.ndarray:
    """log1p(values) scaled to 0..1 over the set, so one viral paper does not flatten the rest."""
    logs = np.log1p(np.asarray(values, dtype=np.float64))
    top = logs.max() if len(logs) else 0.0
    return logs / top if top > 0 else logs


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def author_matches(wanted: str, author: str) -> bool:
    """Name match tolerant of accents, case and initials: "Y. LeCun" matches "Yann LeCun"."""
    want = _fold(wanted).replace(".", " ").replace("-", " ").split()
    have = _fold(author).replace(".", " ").replace("-", " ").split()
    if not want or not have or want[-1] != have[-1]:
        return False
    firsts_w, firsts_h = want[:-1], have[:-1]
    if not firsts_w or not firsts_h:
        return True
    return all(
        (w == h) or (len(w) == 1 and h.startswith(w)) or (len(h) == 1 and w.startswith(h))
        for w, h in zip(firsts_w, firsts_h, strict=False)
    )


def rank(
    index: RelevanceIndex,
    *,
    topics: Iterable[Topic],
    eligible: Collection[int] | None = None,
    already_sent: Collection[int] = (),
    max_papers: int = 10,
    floor: float = 0.3,
) -> list[ScoredPaper]:
    """The top ``max_papers`` eligible papers for these topics, best first, each with reasons.

    ``eligible`` limits the run's index to this subscriber's candidates (paper ids; None = all);
    papers in ``already_sent`` and papers matching an exclude topic are never returned. With no
    positive topics the day's trending papers are returned.
    """
    topics = list(topics)
    excludes = [t for t in topics if t.kind == "exclude"]
    positives = [t for t in topics if t.kind != "exclude"]
    if not len(index):
        return []
    keep = np.ones(len(index), dtype=bool)
    if eligible is not None:
        keep &= index.mask(eligible)
    if already_sent:
        keep &= ~index.mask(already_sent)
    for topic in excludes:
        keep &= ~index.excluded(topic.text)
    if positives:
        total = np.zeros(len(index), dtype=np.float64)
        matched = np.zeros(len(index), dtype=bool)
        for topic in positives:
            relevance = index.relevance(topic)
            hit = relevance >= floor
            total += np.where(hit, topic.weight * relevance, 0.0)
            matched |= hit
        keep &= matched
        scores = total + TRENDING_TIEBREAK * index.trend
    else:
        scores = index.trend
    chosen = np.flatnonzero(keep)
    # Best score first, then most upvoted, then the oldest id: a stable, explainable order.
    order = np.lexsort((index._ids[chosen], -index.upvotes[chosen], -np.round(scores[chosen], 6)))
    result = []
    for i in chosen[order[:max_papers]]:
        paper = index.candidates[i]
        if positives:
            reasons = tuple(
                _reason(index, topic, int(i), paper) for topic in positives if index.relevance(topic)[i] >= floor
            )
        else:
            reasons = (Reason(f"trending: {paper.upvotes} upvotes"),) if paper.upvotes else (Reason("new today"),)
        result.append(ScoredPaper(paper, round(float(scores[i]), 6), reasons))
    return result


def _reason(index: RelevanceIndex, topic: Topic, i: int, paper: Candidate) -> Reason:
    if topic.kind == "category":
        return Reason(f"in {topic.text}", topic=topic.text, terms=(topic.text,))
    if topic.kind == "author":
        names = tuple(a for a in paper.authors if author_matches(topic.text, a))
        return Reason(f"by {names[0] if names else topic.text}", topic=topic.text, terms=names)
    match = index.match(topic.text)
    words = index.matched_words(match, i)
    if len(words) == len(match.terms):
        return Reason(f'matches "{topic.text}"', topic=topic.text, terms=words)
    return Reason(f'partly matches "{topic.text}" ({", ".join(words)})', topic=topic.text, terms=words)
