"""Semantic matching with the bundled model: on by default, stored once, robust to bad text."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pytest

from service.delivery.ranking_inputs import build_index, semantic_scorer
from service.delivery.runtime import Runtime
from service.ledger import embeddings
from service.ledger.ingest import ingest_file
from service.ranking import semantic
from service.ranking.index import RelevanceIndex
from service.ranking.rank import rank
from service.records import Candidate, Topic
from service.resources import sample_listings_path
from service.settings import load_settings
from service.storage import store
from service.storage.engine import session_scope

NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
PAPERS = [
    Candidate(1, "k1", "Keeping old skills while learning new tasks", "A network trained on a sequence of tasks retains earlier abilities.", first_seen=NOW),
    Candidate(2, "k2", "Weather forecasting with graph networks", "Global medium-range forecasts from reanalysis data.", first_seen=NOW),
    Candidate(3, "k3", "Catastrophic forgetting in language models", "Forgetting during fine-tuning.", first_seen=NOW),
]  # fmt: skip


def test_on_by_default_and_off_ranks_lexically() -> None:
    assert load_settings().semantic == "on"
    assert semantic_scorer(load_settings(semantic="off"), PAPERS) is None
    assert isinstance(semantic_scorer(load_settings(), PAPERS), semantic.EmbeddingScorer)


def test_vectors_are_unit_length_and_depend_only_on_the_text() -> None:
    text = "Catastrophic forgetting in language models. Forgetting during fine-tuning."
    encoder = semantic.encoder()
    alone = encoder.encode(text)
    encoder.encode("Something else entirely, and much longer " * 20)
    again = encoder.encode(text)
    assert alone.shape == (semantic.DIM,) and abs(float(np.linalg.norm(alone)) - 1) < 1e-5
    assert semantic.to_bytes(alone) == semantic.to_bytes(again)


def test_the_bundled_model_finds_papers_in_other_words() -> None:
    scorer = semantic_scorer(load_settings(), PAPERS)
    assert isinstance(scorer, semantic.EmbeddingScorer)
    cosine = scorer.cosine("catastrophic forgetting")
    assert cosine[0] > cosine[1] + 0.1  # no shared word, same idea
    topic = [Topic("keyword", "catastrophic forgetting")]
    lexical = rank(RelevanceIndex(PAPERS), topics=topic)
    assert [s.paper.paper_id for s in lexical] == [3]
    blended = rank(RelevanceIndex(PAPERS, semantic=scorer), topics=topic)
    ids = [s.paper.paper_id for s in blended]
    assert ids[0] == 3 and 1 in ids and 2 not in ids
    reason = next(s for s in blended if s.paper.paper_id == 1).reasons[0]
    # Picked for its meaning: the reason says so and quotes the sentence that carries it.
    assert reason.label == (
        'close in meaning to "catastrophic forgetting": '
        "“A network trained on a sequence of tasks retains earlier abilities.”"
    )
    assert reason.terms == ()


def test_the_quoted_sentence_is_the_one_closest_in_meaning() -> None:
    abstract = (
        "We release a benchmark of 40 tasks, e.g. parsing and tagging, collected by Smith et al. in "
        "2023. Models fine-tuned on later tasks lose what they learned on the earlier ones. We "
        "report results on eight GPUs."
    )
    assert semantic.sentences(abstract)[0].startswith(
        "We release a benchmark of 40 tasks, e.g. parsing"
    )
    assert len(semantic.sentences(abstract)) == 3
    assert semantic.closest_sentence("catastrophic forgetting", abstract) == (
        "Models fine-tuned on later tasks lose what they learned on the earlier ones."
    )
    assert semantic.closest_sentence("catastrophic forgetting", "") is None


def test_a_paraphrase_ranks_the_right_paper_above_a_word_for_word_wrong_one() -> None:
    papers = [
        Candidate(1, "right", "Catastrophic forgetting in continual learning", "Sequential fine-tuning erases previously acquired abilities of a model; we propose experience replay to retain them.", first_seen=NOW),
        Candidate(2, "wrong", "Power networks under new loads", "Old transmission networks trained operators on new tasks: grid skills for renewable integration.", first_seen=NOW),
    ]  # fmt: skip
    query = "neural networks losing old skills when trained on new tasks"
    lexical = RelevanceIndex(papers).match(query).relevance
    assert lexical[1] > lexical[0]  # words alone prefer the wrong paper
    scorer = semantic.EmbeddingScorer.for_texts(papers)
    ranked = rank(RelevanceIndex(papers, semantic=scorer), topics=[Topic("keyword", query)])
    assert ranked[0].paper.key == "right"


def test_bad_texts_and_a_failing_model_do_not_stop_ranking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = [
        Candidate(10, "empty", "", "", first_seen=NOW),
        Candidate(11, "huge", "Forgetting " * 10, "catastrophic forgetting of old tasks " * 600, first_seen=NOW),
        Candidate(12, "script", "Катастрофическое забывание 破滅的忘却", "ニューラルネットワーク", first_seen=NOW),
    ]  # fmt: skip
    assert len(bad[1].abstract) > 20_000
    vectors = semantic.embed([semantic.text_of(p) for p in bad])
    assert all(v is not None and v.shape == (semantic.DIM,) for v in vectors)

    def broken(text: str) -> np.ndarray:
        if "Weather" in text:
            raise RuntimeError("model failure")
        return semantic.encoder().encode(text)

    papers = [*PAPERS, *bad]
    with caplog.at_level(logging.WARNING, logger="service.ranking.semantic"):
        semantic._cache.clear()
        scorer = semantic.EmbeddingScorer(
            semantic.embed([semantic.text_of(p) for p in papers], encode=broken)
        )
    assert "embedding_failed" in caplog.text
    assert list(scorer.has_vector) == [True, False, True, True, True, True]
    index = RelevanceIndex(papers, semantic=scorer)
    assert {s.paper.key for s in rank(index, topics=[Topic("keyword", "weather forecasting")])} == {
        "k2"
    }
    assert "k3" in {
        s.paper.key for s in rank(index, topics=[Topic("keyword", "catastrophic forgetting")])
    }


def test_each_paper_is_embedded_once_and_stored(runtime: Runtime) -> None:
    report = ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=NOW)
    assert report.new > 100 and report.embedded == report.new
    with session_scope(runtime.factory) as session:
        ids = [
            c.paper_id for c in store.candidates_since(session, since=NOW - dt.timedelta(days=1))
        ]
        assert len(store.paper_embeddings(session, paper_ids=ids, model=semantic.MODEL)) == len(ids)
    semantic._cache.clear()  # a new process: nothing in memory
    before = dict(semantic.stats)
    assert (
        ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=NOW).new == 0
    )
    with session_scope(runtime.factory) as session:
        index = build_index(session, settings=runtime.settings, now=NOW + dt.timedelta(hours=1))
    assert isinstance(index.semantic, semantic.EmbeddingScorer) and bool(
        index.semantic.has_vector.all()
    )
    assert semantic.stats["embedded"] == before["embedded"]  # every vector came from the database


def test_a_paper_without_a_vector_is_embedded_when_ranked_and_kept(runtime: Runtime) -> None:
    ingest_file(runtime.factory, path=sample_listings_path(), source="sample", now=NOW, embed=False)
    with session_scope(runtime.factory) as session:
        papers = store.candidates_since(session, since=NOW - dt.timedelta(days=1))[:5]
        assert (
            store.paper_embeddings(
                session, paper_ids=[p.paper_id for p in papers], model=semantic.MODEL
            )
            == {}
        )
        first = embeddings.paper_vectors(session, papers)
    semantic._cache.clear()
    before = semantic.stats["embedded"]
    with session_scope(runtime.factory) as session:
        second = embeddings.paper_vectors(session, papers)
    assert semantic.stats["embedded"] == before
    assert all(
        semantic.to_bytes(a) == semantic.to_bytes(b) for a, b in zip(first, second, strict=True)
    )  # type: ignore[arg-type]
