"""Pure: the relevance index, one per run over every candidate, and each topic's evidence in it.

docs/ranking.md explains every component; in short:

* Relevance of a keyword topic is BM25 (bm25s, Snowball stemming, NLTK's English stop words) over title
  + abstract, divided by what a paper scores that uses every term of the topic once in an abstract
  of average length (Σ IDF / (1 + k1)): r. Relevance = tanh(r) × coverage, coverage being the share
  of the topic's IDF mass the paper contains: 0.76 for that paper, near 1 for heavy use, small for a
  paper sharing one common word. With semantic matching (default) it is blended with the
  embedding similarity (service/ranking/hybrid.py). A category topic is worth ``CATEGORY_RELEVANCE``, an author
  topic ``AUTHOR_RELEVANCE`` (name match tolerant of initials and accents, service/ranking/authors.py).
* The index also holds the community signals (service/ranking/trend.py), each paper's tf-idf vector
  of words and authors for the feedback (service/ranking/feedback.py) and, with semantic matching,
  the run's embeddings for the reader's classifier (service/ranking/reader_model.py).

One ``RelevanceIndex`` is built per run over every candidate of the run; each distinct topic text
(and each voted paper's similarity vector) is computed once per run however many subscribers share
it, so ranking one subscriber is a handful of array operations (service/ranking/rank.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import bm25s
import numpy as np
import Stemmer

from service.ranking import hybrid
from service.ranking.authors import author_key, author_matches, fold
from service.ranking.reader_model import Centred, centred, reader_z
from service.ranking.trend import signals
from service.records import Candidate, Topic

# Being in a wanted category is evidence, but weaker than a good keyword match (0.76);
# a paper by a named author is what the subscriber asked for almost by definition.
CATEGORY_RELEVANCE = 0.6
AUTHOR_RELEVANCE = 0.9
_NEAR_ONE = 1.0 - 1e-9  # keeps log(1 - rel) finite
# NLTK's English stop words as bm25s ships them: "from", "how", "what" are no topic words (the
# shorter default list kept them, and a digest said it matched "from").
STOPWORDS = "en_plus"


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
class Evidence:
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
        texts = [fold(f"{c.title}\n{c.abstract}") for c in self.candidates]
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
        self._evidence_cache: dict[tuple[str, str, float], Evidence] = {}
        self._evidence_exact: dict[tuple[str, str, float], Evidence] = {}
        self._exclude_cache: dict[str, np.ndarray] = {}
        self._similarity_cache: dict[int, np.ndarray] = {}
        self._sentence_cache: dict[tuple[int, str], str | None] = {}
        self._outside_vectors: dict[int, np.ndarray | None] = {}
        self._centred: Centred | None = None
        self._tfidf: tuple[dict[str, float], dict[str, tuple[np.ndarray, np.ndarray]]] | None = None
        # paper ids in index order (ties in ``rank`` go to the oldest id)
        self.ids = np.asarray([c.paper_id for c in self.candidates], dtype=np.int64)
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
            [fold(text)], stopwords=STOPWORDS, return_ids=False, show_progress=False
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

    def evidence(self, topic: Topic, floor: float) -> Evidence:
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
            cached = self._evidence_cache[key] = Evidence(hit, log_miss)
        self._evidence_exact[exact] = cached
        return cached

    def raw_relevance(self, topics: Sequence[Topic]) -> np.ndarray:
        """The weighted noisy-or of ``topics``' relevance with no floor: how near each paper is."""
        log_miss = np.zeros(len(self), dtype=np.float64)
        for topic in topics:
            log_miss += topic.weight * np.log1p(-np.minimum(self.relevance(topic), _NEAR_ONE))
        return 1 - np.exp(log_miss)

    def excluded(self, text: str) -> np.ndarray:
        """Papers that contain every term of ``text`` (how an exclude topic matches), memoised.

        ``author:NAME`` (a muted author) excludes the papers that author signed instead."""
        key = " ".join(text.casefold().split())
        cached = self._exclude_cache.get(key)
        if cached is None and key.startswith("author:"):
            name = text.strip()[len("author:") :].strip()
            cached = self._exclude_cache[key] = self.relevance(Topic("author", name)) > 0
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

    def _space(self) -> tuple[dict[str, float], dict[str, tuple[np.ndarray, np.ndarray]]]:
        """The candidates' tf-idf space (``tfidf_space``), built once per run when feedback needs it."""
        if self._tfidf is None:
            self._tfidf = tfidf_space(
                [
                    features((self._inverse[i] for i in ids), c.authors)
                    for ids, c in zip(self._doc_ids, self.candidates, strict=True)
                ]
            )
        return self._tfidf

    def similarity(self, paper: Candidate) -> np.ndarray:
        """Cosine similarity (tf-idf of words and authors) of ``paper`` to every candidate, memoised."""
        cached = self._similarity_cache.get(paper.paper_id)
        if cached is not None:
            return cached
        idf, columns = self._space()
        words = bm25s.tokenize(
            [fold(f"{paper.title}\n{paper.abstract}")],
            stopwords=STOPWORDS,
            return_ids=False,
            show_progress=False,
        )[0]
        counts = features(self._stemmer.stemWords(words), paper.authors)
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

    def reader_z(
        self, liked: Sequence[Candidate], disliked: Sequence[Candidate]
    ) -> np.ndarray | None:
        """The reader's own classifier over the candidates, from the papers they liked and disliked.

        None: too few votes or no embeddings.
        """
        if self.semantic is None or not len(self):
            return None
        if self._centred is None:  # the run's vectors centred once, for every reader's classifier
            self._centred = centred(self.semantic.matrix, self.semantic.has_vector)
        return reader_z(
            self._centred,
            self.semantic.has_vector,
            self.paper_vectors(liked),
            self.paper_vectors(disliked),
        )

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


def features(words: Iterable[str], authors: Iterable[str]) -> Counter[str]:
    """A paper's tf-idf features: its stemmed words and one ``author_key`` per author."""
    counts: Counter[str] = Counter(words)
    counts.update({key: 1 for key in {author_key(a) for a in authors} if key})
    return counts


def tfidf_space(
    docs: Sequence[Counter[str]],
) -> tuple[dict[str, float], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Smoothed idf per feature and, per feature, the candidates holding it with their weights."""
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
    return idf, {
        f: (np.asarray(d, dtype=np.int64), np.asarray(w, dtype=np.float64))
        for f, (d, w) in columns.items()
    }
