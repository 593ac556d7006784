"""The labelled set of bench/rank_eval.py: well formed, and judged over papers the repository ships."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.support.paths import REPO

BENCH = REPO / "bench"


@pytest.fixture(scope="module")
def rank_eval():
    sys.path.insert(0, str(BENCH))  # the script imports bench/results.py as a top-level module
    try:
        spec = importlib.util.spec_from_file_location("rank_eval", BENCH / "rank_eval.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["rank_eval"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("rank_eval", None)
        sys.path.remove(str(BENCH))


def test_the_seed_pages_give_314_distinct_papers_on_three_days(rank_eval):
    days = rank_eval.load_days()
    assert [len(day.papers) for day in days] == [119, 106, 89]
    keys = [p.key for day in days for p in day.papers]
    assert len(set(keys)) == len(keys) == 314
    assert len({p.paper_id for day in days for p in day.papers}) == 314


def test_every_judged_paper_is_on_a_seed_page_under_its_title(rank_eval):
    titles = {p.key: p.title for day in rank_eval.load_days() for p in day.papers}
    for entry in rank_eval.json.loads(rank_eval.LABELS.read_text(encoding="utf-8"))[
        "topics"
    ].values():
        for key, title in entry["relevant"].items():
            assert titles.get(key) == title


def test_the_set_has_enough_topics_of_each_kind_in_both_splits(rank_eval):
    labels = rank_eval.load_labels()
    assert len(labels) >= 25
    assert sum(j.phrasing == "paraphrased" for j in labels) >= 10
    for split in rank_eval.SPLITS:
        for phrasing in rank_eval.PHRASINGS:
            assert any(j.split == split and j.phrasing == phrasing for j in labels)
    assert any(j.exclude for j in labels)
    assert all(j.relevant for j in labels)
    assert len({j.name for j in labels}) == len(labels)


def test_precision_is_capped_by_the_relevant_papers_of_the_day(rank_eval):
    relevant = frozenset({"a", "b", "c"})
    assert rank_eval.precision(["a", "x", "b", "c"], relevant, 10) == 1.0
    assert rank_eval.precision(["a", "x"], relevant, 10) == pytest.approx(1 / 3)
    assert rank_eval.precision(["x", "y", "a"], frozenset("abcdefghijkl"), 5) == pytest.approx(
        1 / 5
    )
    assert rank_eval.ndcg(["a", "b", "c"], relevant, 10) == pytest.approx(1.0)
    assert rank_eval.ndcg(["x", "a"], frozenset({"a"}), 10) == pytest.approx(1 / 1.584962500721156)
