"""Paper views shared between readers (service/digest/shared_views.py): a digest rendered from
views and rows other readers' digests built first is, byte for byte, the digest rendered from
its own; each reader's links carry their own token and no stand-in is left."""

from __future__ import annotations

import dataclasses
import random

from service.digest.render import Renderer
from service.digest.samples import BASE_URL, DIGEST_DATE, sample_papers
from service.digest.shared_views import SharedViews, shareable, stand_in
from service.records import Digest, DigestLinks, Reason, ScoredPaper, Topic
from service.resources import templates_dir
from service.subscribers.paper_links import digest_links
from service.subscribers.tokens import Signer

SIGNER = Signer("shared-views-key")
LABELS = (
    ('matches "language models"', "trending: 42 upvotes"),
    ('matches "agents"',),
    ('matches "long videos"', 'matches "language models"'),
    (),
)


def digest(
    subscriber: int, order: list[int], labels: tuple[str, ...], *,
    interests: dict[str, int] | None = None,
) -> Digest:  # fmt: skip
    """Reader `subscriber`'s digest of the sample papers at `order`, each with `labels` as
    reasons; with `interests` (name → id) the papers go round them, in sections."""
    papers = sample_papers()
    names = sorted(interests or {})
    scored = tuple(
        ScoredPaper(
            papers[i], 1.0 - n / 100, tuple(Reason(label) for label in labels),
            names[n % len(names)] if names else None,
        )
        for n, i in enumerate(order)
    )  # fmt: skip
    ids = [p.paper.paper_id for p in scored]
    links = digest_links(SIGNER, BASE_URL, subscriber, ids, scored, interests)
    return Digest(
        f"reader{subscriber}@example.org", DIGEST_DATE, scored, links, (Topic("keyword", "x"),)
    )


def readers() -> list[Digest]:
    """Readers who share papers in every way a view can be shared or not: the same papers in
    other places, other reasons, the full and the compact layout (past 10 papers), sections
    of the same name with other ids, and subscriber ids of other lengths (token lengths)."""
    count = len(sample_papers())
    rng = random.Random(5)
    out = []
    for subscriber in (1, 2, 3, 42, 4242, 424242, 7, 8):
        order = rng.sample(range(count), min(count, rng.choice([3, 12, 14])))
        labels = LABELS[subscriber % len(LABELS)]
        interests = (
            {"Agents": subscriber, "Video": 100 + subscriber} if subscriber in (7, 8) else None
        )
        out.append(digest(subscriber, order, labels, interests=interests))
    papers = [p.paper for p in out[0].papers]
    first = [sample_papers().index(p) for p in papers]
    five = digest(5, first, LABELS[1])  # reader 1's papers and reasons, in the same places
    out.append(five)
    out.append(digest(9, first[2::-1], LABELS[1]))  # three of them, elsewhere
    rest = [i for i in range(count) if i not in first]
    out.append(digest(6, [*rest[:11], first[0]], LABELS[1]))  # reader 1's first, compact
    # Sections of other names, links without interest ids: only the section tells them apart.
    for subscriber, names in ((10, ("Agents", "Video")), (11, ("Robots", "Zebras"))):
        named = digest(subscriber, first, LABELS[1], interests=dict.fromkeys(names, 1))
        ids = [p.paper.paper_id for p in named.papers]
        plain = digest_links(SIGNER, BASE_URL, subscriber, ids, named.papers)
        out.append(dataclasses.replace(named, links=plain))
    # Other reasons that choose the same steering links: only the why line tells them apart.
    out.append(digest(12, first, ('matches "language models"',)))
    out.append(digest(13, first, LABELS[0]))
    # Reader 5 again without steering links, and without feedback links.
    for change in ({"steer": {}}, {"feedback": {}}):
        out.append(dataclasses.replace(five, links=dataclasses.replace(five.links, **change)))
    return out


def own(d: Digest) -> Digest:
    """The same digest with no token named: every view and row is built for it alone."""
    return dataclasses.replace(d, links=dataclasses.replace(d.links, token=""))


def test_a_digest_from_shared_views_is_the_digest_from_its_own() -> None:
    digests = readers()
    assert all(shareable(d.links) for d in digests)
    alone = Renderer(templates_dir())
    expected = [alone.render(own(d)) for d in digests]
    shared = Renderer(templates_dir())
    for _ in range(2):  # first building the views, then finding them, in another order
        order = list(range(len(digests)))
        random.Random(len(order)).shuffle(order)
        for i in order:
            assert shared.render(digests[i]) == expected[i]
    assert 0 < len(shared._views._views) < sum(len(d.papers) for d in digests)


def test_each_reader_gets_their_own_token_and_no_stand_in() -> None:
    digests = readers()
    renderer = Renderer(templates_dir())
    rendered = [renderer.render(d) for d in digests]
    tokens = [d.links.token for d in digests]
    assert len(set(map(len, tokens))) > 1  # stand-ins of several lengths
    for d, token, out in zip(digests, tokens, rendered, strict=True):
        links = 2 if d.links.feedback else 0
        assert out.html.count(f"/feedback/{token}?") >= links
        assert out.text.count(f"/feedback/{token}?") >= links
        assert (f"/steer/{token}?" in out.html) is bool(d.links.steer)
        for other in tokens:
            assert (other in out.html) is (other == token)
        for length in set(map(len, tokens)):
            assert stand_in(length) not in out.html + out.text


def test_papers_are_numbered_where_each_reader_has_them() -> None:
    # Reader 1 has papers 0, 1, 2 and reader 2 the same with the same reasons in reverse: the
    # views are shared, the numbers are each reader's.
    first = digest(1, [0, 1, 2], LABELS[1])
    second = digest(2, [2, 1, 0], LABELS[1])
    renderer = Renderer(templates_dir())
    renderer.render(first)
    text = renderer.render(second).text
    titles = [p.paper.title for p in second.papers]
    for number, title in enumerate(titles, 1):
        assert f"{number}.  {title[:20]}" in text
    assert text == Renderer(templates_dir()).render(own(second)).text


def test_a_token_that_is_short_or_not_url_safe_is_not_shared() -> None:
    links = readers()[0].links
    for token in ("short", "a" * 20 + "&b", "a" * 20 + "<"):
        assert shareable(dataclasses.replace(links, token=token)) == ""
    assert shareable(DigestLinks("", "")) == ""
    # Such a digest is still rendered right: from its own views.
    odd = readers()[1]
    odd = dataclasses.replace(odd, links=dataclasses.replace(odd.links, token="short"))
    renderer = Renderer(templates_dir())
    assert renderer.render(odd) == Renderer(templates_dir()).render(own(odd))
    assert not renderer._views._views


def test_the_view_cache_is_bounded() -> None:
    renderer = Renderer(templates_dir())
    renderer._views = SharedViews(size=2)
    digests = readers()
    alone = Renderer(templates_dir())
    for d in digests:
        assert renderer.render(d) == alone.render(own(d))
        assert len(renderer._views._views) <= 2
