"""Pure ranking: candidate papers × one subscriber's preferences → a short, explained digest.

docs/ranking.md explains every component and the blend; in short:

* Relevance of a keyword topic is BM25 (bm25s, Snowball stemming, NLTK's English stop words) over title
  + abstract, divided by what a paper scores that uses every term of the topic once in an abstract
  of average length (Σ IDF / (1 + k1)): r. Relevance = tanh(r) × coverage, coverage being the share
  of the topic's IDF mass the paper contains: 0.76 for that paper, near 1 for heavy use, small for a
  paper sharing one common word. With semantic matching (default) it is blended with the
  embedding similarity (service/ranking/hybrid.py). A category topic is worth ``CATEGORY_RELEVANCE``, an author
  topic ``AUTHOR_RELEVANCE`` (name match tolerant of initials and accents).
* A topic counts when its relevance passes the subscriber's floor; the topics combine as a
  weighted noisy-or, R = 1 − Π (1 − rel_t) ** weight_t, which stays in 0..1.
* Score = (1 − s)·R + s·T + 0.1·recency + feedback, s being the subscriber's trending share and T
  the community signal normalised over the candidates (service/ranking/trend.py); feedback is the Rocchio
  score of their votes (service/ranking/feedback.py).
* ⌊s × max papers⌋ slots go to the most trending papers that did not make it on relevance; a
  subscriber without topics gets trending papers only. Exclude topics and already sent papers
  never appear.

One ``RelevanceIndex`` is built per run over every candidate of the run; each distinct topic text
(and each voted paper's similarity vector) is computed once per run however many subscribers share
it, so ranking one subscriber is a handful of array operations.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import bm25s
import numpy as np
import Stemmer

from service.ranking import hybrid
from service.ranking.diversity import diverse_top
from service.ranking.feedback import ADMIT_SIMILARITY, FEEDBACK_WEIGHT, Votes, feedback_scores
from service.ranking.reader_model import ADMIT_Z, Centred, centred, reader_shift, reader_z
from service.ranking.trend import signals, trending_label
from service.records import Candidate, Reason, ScoredPaper, Topic

# Being in a wanted category is evidence, but weaker than a good keyword match (0.76);
# a paper by a named author is what the subscriber asked for almost by definition.
CATEGORY_RELEVANCE = 0.6
AUTHOR_RELEVANCE = 0.9
RECENCY_WEIGHT = 0.1  # fresher first among equals; matters for weekly digests
_NEAR_ONE = 1.0 - 1e-9  # keeps log(1 - rel) finite
# NLTK's English stop words as bm25s ships them: "from", "how", "what" are no topic words (the
# shorter default list kept them, and a digest said it matched "from").
STOPWORDS = "en_plus"
# A trending pick must be at least this share of the floor relevant to the reader's topics; else
# at most one trending paper, labelled as off their topics, goes in (the same few trending papers
# once took two places in every digest, whatever the topics).
ON_TOPIC_SHARE_OF_FLOOR = 0.5
MAX_OFF_TOPIC_TRENDING = 1
POOL_FACTOR = 3  # MMR chooses the digest among the best POOL_FACTOR × max papers


class SemanticScorer(Protocol):
    """Embedding similarity of a topic text to every candidate."""

    has_vector: np.ndarray  # bool per candidate: False where the paper could not be embedded
    matrix: np.ndarray  # one unit embedding per candidate (zeros where there is none)

    def paper_vector(self, paper: Candidate) -> np.ndarray | None: ...

    def cosine(self, text: str) -> np.ndarray: ...

    def closest_sentence(self, text: str, abstract: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Lexical relevance of one topic text to every paper of the index."""

    relevance: np.ndarray  # float, 0..1, one per paper
    terms: tuple[tuple[str, str], ...]  # (stem, the word as the subscriber wrote it)


@dataclass(frozen=True, slots=True)
class _Evidence:
    """One topic at one floor: which papers it counts for, and log(1 - relevance) where it does."""

    hit: np.ndarray  # bool
    log_miss: np.ndarray  # float, 0 where not a hit


class RelevanceIndex:
    """BM25 index and community signals over one run's candidates; topic scores memoised per run."""

    def __init__(
        self,
        candidates: Sequence[Candidate],
        *,
        now: dt.datetime | None = None,
        upvotes_before: Mapping[int, int] | None = None,
        semantic: SemanticScorer | None = None,
    ) -> None:
        self.candidates = list(candidates)
        self.position = {c.paper_id: i for i, c in enumerate(self.candidates)}
        self._stemmer = Stemmer.Stemmer("english")
        # Accents folded on both sides: "Schrodinger" finds "Schrödinger".
        texts = [_fold(f"{c.title}\n{c.abstract}") for c in self.candidates]
        tokenized = bm25s.tokenize(
            texts, stopwords=STOPWORDS, stemmer=self._stemmer, show_progress=False
        )
        self._inverse = {i: token for token, i in tokenized.vocab.items()}
        self._doc_ids = tokenized.ids
        self._doc_terms = [frozenset(self._inverse[i] for i in ids) for ids in tokenized.ids]
        postings: dict[str, list[int]] = {}
        for doc, terms in enumerate(self._doc_terms):
            for term in terms:
                postings.setdefault(term, []).append(doc)
        self._postings = {term: np.asarray(docs, dtype=np.int64) for term, docs in postings.items()}
        self._bm25: bm25s.BM25 | None = None
        if self.candidates and tokenized.vocab:
            self._bm25 = bm25s.BM25()
            self._bm25.index(tokenized, show_progress=False)
        self.semantic = semantic
        self._cache: dict[str, TopicMatch] = {}
        self._relevance_cache: dict[tuple[str, str], np.ndarray] = {}
        self._evidence_cache: dict[tuple[str, str, float], _Evidence] = {}
        self._evidence_exact: dict[tuple[str, str, float], _Evidence] = {}
        self._exclude_cache: dict[str, np.ndarray] = {}
        self._similarity_cache: dict[int, np.ndarray] = {}
        self._sentence_cache: dict[tuple[int, str], str | None] = {}
        self._outside_vectors: dict[int, np.ndarray | None] = {}
        self._centred: Centred | None = None
        self._tfidf: tuple[dict[str, float], dict[str, tuple[np.ndarray, np.ndarray]]] | None = None
        self._ids = np.asarray([c.paper_id for c in self.candidates], dtype=np.int64)
        self._first_seen = np.asarray(
            [c.first_seen.timestamp() if c.first_seen else math.inf for c in self.candidates],
            dtype=np.float64,
        )
        found = signals(self.candidates, now=now, upvotes_before=upvotes_before)
        self.upvotes, self.velocity = found.upvotes, found.velocity
        self.trend, self.recency = found.trend, found.recency

    def __len__(self) -> int:
        return len(self.candidates)

    # --- keyword relevance -----------------------------------------------------------------------

    def _idf(self, term: str) -> float:
        n, df = len(self.candidates), len(self._postings.get(term, ()))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _query_terms(self, text: str) -> tuple[tuple[str, str], ...]:
        words = bm25s.tokenize(
            [_fold(text)], stopwords=STOPWORDS, return_ids=False, show_progress=False
        )[0]
        seen: dict[str, str] = {}
        for word in words:
            seen.setdefault(self._stemmer.stemWord(word), word)
        return tuple(seen.items())

    def match(self, text: str) -> TopicMatch:
        """Lexical relevance of ``text`` to every paper (memoised: once per distinct text per run)."""
        cached = self._cache.get(text)  # the text as given: no normalising on the hot path
        if cached is not None:
            return cached
        key = " ".join(text.casefold().split())
        cached = self._cache.get(key)
        if cached is not None:
            self._cache[text] = cached
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
        self._cache[key] = self._cache[text] = result
        return result

    def matched_words(self, match: TopicMatch, index: int) -> tuple[str, ...]:
        """The topic's words (as written) that paper ``index`` contains."""
        terms = self._doc_terms[index]
        return tuple(word for stem, word in match.terms if stem in terms)

    def relevance(self, topic: Topic) -> np.ndarray:
        """Relevance (0..1) of one topic of any kind to every paper (memoised per kind and text)."""
        cached = self._relevance_cache.get((topic.kind, topic.text))  # as given: the hot path
        if cached is not None:
            return cached
        key = (topic.kind, " ".join(topic.text.casefold().split()))
        cached = self._relevance_cache.get(key)
        if cached is not None:
            self._relevance_cache[(topic.kind, topic.text)] = cached
            return cached
        if topic.kind == "category":
            hits = [key[1] in {c.casefold() for c in paper.categories} for paper in self.candidates]
            cached = CATEGORY_RELEVANCE * np.asarray(hits, dtype=np.float64)
        elif topic.kind == "author":
            hits = [
                any(author_matches(topic.text, a) for a in paper.authors)
                for paper in self.candidates
            ]
            cached = AUTHOR_RELEVANCE * np.asarray(hits, dtype=np.float64)
        else:
            cached = self.match(topic.text).relevance
            if self.semantic is not None and len(self):
                cosine = self.semantic.cosine(topic.text)
                cached = hybrid.blend(cached, cosine, self.semantic.has_vector)
        self._relevance_cache[key] = self._relevance_cache[(topic.kind, topic.text)] = cached
        return cached

    def evidence(self, topic: Topic, floor: float) -> _Evidence:
        """Where ``topic`` counts at ``floor`` (category and author topics ignore it) and log(1 − rel)."""
        exact = (topic.kind, topic.text, floor)  # the hot path: the text as stored, no normalising
        cached = self._evidence_exact.get(exact)
        if cached is not None:
            return cached
        key = (topic.kind, " ".join(topic.text.casefold().split()), floor)
        cached = self._evidence_cache.get(key)
        if cached is None:
            relevance = self.relevance(topic)
            hit = (
                relevance > 0
                if topic.kind in ("category", "author")
                else (relevance >= floor) & (relevance > 0)
            )
            log_miss = np.where(hit, np.log1p(-np.minimum(relevance, _NEAR_ONE)), 0.0)
            cached = self._evidence_cache[key] = _Evidence(hit, log_miss)
        self._evidence_exact[exact] = cached
        return cached

    def raw_relevance(self, topics: Sequence[Topic]) -> np.ndarray:
        """The weighted noisy-or of ``topics``' relevance with no floor: how near each paper is."""
        log_miss = np.zeros(len(self), dtype=np.float64)
        for topic in topics:
            log_miss += topic.weight * np.log1p(-np.minimum(self.relevance(topic), _NEAR_ONE))
        return 1 - np.exp(log_miss)

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
        found = np.zeros(len(self), dtype=bool)
        found[[i for pid in paper_ids if (i := self.position.get(pid)) is not None]] = True
        return found

    def seen_since(self, since: dt.datetime) -> np.ndarray:
        """True for the papers first seen at or after ``since``."""
        return self._first_seen >= since.timestamp()

    # --- tf-idf space for feedback ---------------------------------------------------------------

    def _features(self, words: Iterable[str], authors: Iterable[str]) -> Counter[str]:
        counts: Counter[str] = Counter(words)
        counts.update({key: 1 for key in {author_key(a) for a in authors} if key})
        return counts

    def _space(self) -> tuple[dict[str, float], dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Smoothed idf per feature and, per feature, the candidates holding it with their weights."""
        if self._tfidf is None:
            docs = [
                self._features((self._inverse[i] for i in ids), c.authors)
                for ids, c in zip(self._doc_ids, self.candidates, strict=True)
            ]
            df: Counter[str] = Counter()
            for counts in docs:
                df.update(counts.keys())
            n = len(docs)
            idf = {f: math.log((n + 1) / (d + 1)) + 1 for f, d in df.items()}
            columns: dict[str, tuple[list[int], list[float]]] = {}
            for doc, counts in enumerate(docs):
                weights = {f: (1 + math.log(tf)) * idf[f] for f, tf in counts.items()}
                norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
                for f, w in weights.items():
                    column = columns.setdefault(f, ([], []))
                    column[0].append(doc)
                    column[1].append(w / norm)
            self._tfidf = (
                idf,
                {
                    f: (np.asarray(d, dtype=np.int64), np.asarray(w, dtype=np.float64))
                    for f, (d, w) in columns.items()
                },
            )
        return self._tfidf

    def similarity(self, paper: Candidate) -> np.ndarray:
        """Cosine similarity (tf-idf of words and authors) of ``paper`` to every candidate, memoised."""
        cached = self._similarity_cache.get(paper.paper_id)
        if cached is not None:
            return cached
        idf, columns = self._space()
        words = bm25s.tokenize(
            [_fold(f"{paper.title}\n{paper.abstract}")],
            stopwords=STOPWORDS,
            return_ids=False,
            show_progress=False,
        )[0]
        counts = self._features(self._stemmer.stemWords(words), paper.authors)
        unseen = math.log(len(self) + 1) + 1
        weights = {f: (1 + math.log(tf)) * idf.get(f, unseen) for f, tf in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        result = np.zeros(len(self), dtype=np.float64)
        for f, w in weights.items():
            column = columns.get(f)
            if column is not None:
                result[column[0]] += (w / norm) * column[1]
        self._similarity_cache[paper.paper_id] = result
        return result

    def paper_vectors(self, papers: Sequence[Candidate]) -> np.ndarray:
        """Embeddings of ``papers`` (the run's rows for candidates, else embedded), one per row.

        Papers that cannot be embedded are left out.
        """
        assert self.semantic is not None
        rows = []
        for paper in papers:
            i = self.position.get(paper.paper_id)
            if i is not None and self.semantic.has_vector[i]:
                rows.append(self.semantic.matrix[i])
            else:  # a paper from before this run: embedded (or found in memory) once per run
                if paper.paper_id not in self._outside_vectors:
                    self._outside_vectors[paper.paper_id] = self.semantic.paper_vector(paper)
                if (vector := self._outside_vectors[paper.paper_id]) is not None:
                    rows.append(vector)
        width = self.semantic.matrix.shape[1]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), width)

    def reader_z(self, votes: Votes) -> np.ndarray | None:
        """The reader's own classifier over the candidates (None: too few votes or no embeddings)."""
        if self.semantic is None or not len(self):
            return None
        if self._centred is None:  # the run's vectors centred once, for every reader's classifier
            self._centred = centred(self.semantic.matrix, self.semantic.has_vector)
        liked, disliked = self.paper_vectors(votes.liked), self.paper_vectors(votes.disliked)
        return reader_z(self._centred, self.semantic.has_vector, liked, disliked)

    def closest_sentence(self, i: int, text: str) -> str | None:
        """The sentence of paper ``i``'s abstract closest in meaning to ``text`` (memoised per run)."""
        key = (i, " ".join(text.casefold().split()))
        if key not in self._sentence_cache:
            found = None
            if self.semantic is not None:
                try:
                    found = self.semantic.closest_sentence(text, self.candidates[i].abstract)
                except Exception:  # a reason without its quote is still a reason
                    found = None
            self._sentence_cache[key] = found
        return self._sentence_cache[key]

    def similarity_at(self, i: int) -> np.ndarray:
        """Similarity of the paper at position ``i`` to every candidate (for diversity), memoised."""
        return self.similarity(self.candidates[i])


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _name_parts(name: str) -> list[str]:
    return _fold(name).replace(".", " ").replace("-", " ").replace(",", " ").split()


def author_matches(wanted: str, author: str) -> bool:
    """Name match tolerant of accents, case and initials: "Y. LeCun" matches "Yann LeCun"."""
    want, have = _name_parts(wanted), _name_parts(author)
    if not want or not have or want[-1] != have[-1]:
        return False
    firsts_w, firsts_h = want[:-1], have[:-1]
    if not firsts_w or not firsts_h:
        return True
    return all(
        (w == h) or (len(w) == 1 and h.startswith(w)) or (len(h) == 1 and w.startswith(h))
        for w, h in zip(firsts_w, firsts_h, strict=False)
    )


def author_key(name: str) -> str:
    """A feature for an author: folded surname and first initial ("lecun y" for "Yann LeCun")."""
    parts = _name_parts(name)
    if not parts:
        return ""
    return f"@{parts[-1]} {parts[0][0]}" if len(parts) > 1 else f"@{parts[-1]}"


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
    reader = index.reader_z(votes) if votes is not None else None
    if reader is not None:
        shift = shift + reader_shift(reader, len(votes))  # type: ignore[arg-type]
    base = RECENCY_WEIGHT * index.recency + shift
    picks: list[tuple[int, float, str]] = []  # (paper index, score, why: "relevant" or "trending")
    if positives:
        share = min(max(trending_share, 0.0), 1.0)
        log_miss = np.zeros(len(index), dtype=np.float64)
        matched = np.zeros(len(index), dtype=bool)
        for topic in positives:
            evidence = index.evidence(topic, floor)
            log_miss += topic.weight * evidence.log_miss
            matched |= evidence.hit
        if fb is not None and fb.liked:
            matched |= fb.liked_similarity.max(axis=0) >= ADMIT_SIMILARITY
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
        if (
            fb is not None
            and (closest := fb.closest_liked(i)) is not None
            and closest[1] >= ADMIT_SIMILARITY
        ):
            reasons.append(
                Reason(f'like "{closest[0].title}", which you liked', topic=None, terms=())
            )
        result.append(ScoredPaper(paper, round(value, 6), tuple(reasons)))
    return result


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
        (index._ids[candidates], -index.upvotes[candidates], -np.round(score[candidates], 6))
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
