"""The row caches (service/digest/fragments.py): a paper's row is rendered once and reused, but
each reader sees only their own links, highlighted words, reasons and steering labels."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from service.digest.fragments import OncePerRow
from service.digest.render import Renderer
from service.digest.samples import BASE_URL, DIGEST_DATE, sample_papers
from service.records import Digest, Reason, ScoredPaper, Topic
from service.resources import templates_dir
from service.subscribers.paper_links import digest_links
from service.subscribers.tokens import Signer

# The same three papers for every reader; what differs is theirs alone.
READERS = (
    (1, ('matches "language models"', "trending: 42 upvotes")),
    (2, ('matches "agents"',)),
    (3, ('matches "long videos"', 'matches "language models"')),
    (4, ()),  # no reasons: no why line, no highlighted words
    (5, ('matches "agents"',)),  # reader 2's reasons, their own token
)


def reader_digest(subscriber: int, labels: tuple[str, ...], *, compact: bool = False) -> Digest:
    papers = sample_papers()[:3]
    scored = tuple(
        ScoredPaper(p, 1.0 - i / 10, tuple(Reason(label) for label in labels))
        for i, p in enumerate(papers)
    )
    links = digest_links(
        Signer(f"key-{subscriber}"), BASE_URL, subscriber, [p.paper_id for p in papers], scored
    )
    if compact:  # readers 1 and 3 lose "more like this" on the second paper
        feedback = dict(links.feedback)
        feedback[papers[1].paper_id] = ("", feedback[papers[1].paper_id][1])
        links = dataclasses.replace(links, feedback=feedback)
    return Digest(
        f"reader{subscriber}@example.org", DIGEST_DATE, scored, links, (Topic("keyword", "x"),)
    )


def test_each_reader_of_a_shared_paper_gets_their_own_row() -> None:
    digests = [reader_digest(s, labels, compact=s in (1, 3)) for s, labels in READERS]
    # What each digest is when no other digest was rendered before it: a renderer of its own.
    cold = [Renderer(templates_dir()).render(d) for d in digests]
    warm = Renderer(templates_dir())
    for _ in range(2):
        for digest, alone in zip(digests, cold, strict=True):
            assert warm.render(digest) == alone
    # The readers do differ where the cache could mix them up.
    htmls = [c.html for c in cold]
    assert len({html.count('<mark class="hit"') for html in htmls}) > 2
    assert len({html.count('class="why"') for html in htmls}) == 2
    assert htmls[1].count("Not interested in") == 3
    assert "agents" not in htmls[1].split("Not interested in")[1][:40]
    for digest, html in zip(digests, htmls, strict=True):
        for other in digests:
            for up, down in other.links.feedback.values():
                for url in filter(None, (up, down)):
                    assert (url.replace("&", "&amp;") in html) is (other is digest)


def test_the_row_cache_is_bounded() -> None:
    cache = OncePerRow(size=2)
    renderer = Renderer(templates_dir())
    renderer.env.globals["once_per_row"] = cache
    for subscriber, labels in READERS:
        renderer.render(reader_digest(subscriber, labels))
    assert len(cache._rows) <= 2 and len(cache._excerpts) <= 2


def test_a_row_macro_that_changes_a_readers_value_is_refused(tmp_path: Path) -> None:
    # A filter on a per-reader value would be applied to its slot, not to the value: refused.
    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    paper_html = copy / "email" / "_paper.html"
    text = paper_html.read_text()
    assert "{{ row.why }}" in text
    paper_html.write_text(text.replace("{{ row.why }}", "{{ row.why | upper }}"))
    with pytest.raises(ValueError, match="as it is"):
        Renderer(copy)
