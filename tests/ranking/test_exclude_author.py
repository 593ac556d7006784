"""An ``exclude:author:NAME`` topic (a muted author) drops the papers that author signed."""

from __future__ import annotations

from service.ranking.index import RelevanceIndex
from service.records import Candidate


def paper(pid: int, title: str, authors: tuple[str, ...]) -> Candidate:
    return Candidate(paper_id=pid, key=f"k{pid}", title=title, abstract=title, authors=authors)


def test_a_muted_author_excludes_their_papers_whatever_the_spelling_of_the_name() -> None:
    index = RelevanceIndex([
        paper(1, "Graph networks for molecules", ("José Q. Doe",)),
        paper(2, "Graph networks for traffic", ("Lin Wu",)),
        paper(3, "Graph networks by Doe", ("Max Roe",)),  # names Doe in its text only
    ])  # fmt: skip
    assert index.excluded("author:J. Doe").tolist() == [True, False, False]
    assert index.excluded("Author: jose doe").tolist() == [True, False, False]
    assert index.excluded("doe").tolist() == [False, False, True]  # a word: the text only
