"""Paper views shared between readers whose paper links differ only in their signed token.

A digest's paper links carry one signed token per reader and otherwise depend only on the site,
the paper and the interest it was picked for (service/subscribers/paper_links.py). So two
readers who get the same paper for the same reasons see the same row but for that token. When
a digest's DigestLinks names its token, the Renderer asks `SharedViews` for each paper's view:
it is built once, with `stand_in(len(token))` where the token goes, and kept. The rows
rendered from a shared view are kept too (fragments.OncePerRow), and `Renderer.render` puts the
token back into the finished HTML and text (`restore`). A reader's digest then costs a lookup
per paper instead of building a view and filling a row.

Why the output is the same as building each reader's view with their own links: the stand-in
has the token's length and, like the token, only characters that escaping, URL vetting and the
text layout leave as they are (letters, digits, "_", ".", "-"); and it is random, so it occurs
nowhere else in a digest. A token that is shorter or has other characters is not shared.
"""

from __future__ import annotations

import functools
import re
import secrets
import string

from service.digest.paper_view import PaperView, facts_of, paper_view
from service.records import DigestLinks, ScoredPaper

# What markupsafe.escape, text.safe_url and the text layout treat like any letter; 16 or more,
# so a random stand-in is never found by chance (62^16 > 2^95).
SHAREABLE_TOKEN = re.compile(r"[A-Za-z0-9_.-]{16,}")
_ALPHABET = string.ascii_letters + string.digits
# Views kept, and rows and text kept per view (fragments.OncePerView): a day's distinct papers,
# reasons and interests; a 5,000-reader day has ~10,000. Each view with its row and text is a
# few KiB, so the three caches hold ~80 MiB at most.
VIEWS_KEPT = 16384


def shareable(links: DigestLinks) -> str:
    """The digest's token when its paper views can be shared, else ""."""
    token = links.token
    return token if token and SHAREABLE_TOKEN.fullmatch(token) else ""


@functools.lru_cache(maxsize=256)
def stand_in(length: int) -> str:
    """A random string of `length` letters and digits, the same for one length all process long."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def restore(text: str, token: str) -> str:
    """`text` rendered from shared views, with the reader's `token` in place of its stand-in."""
    return text.replace(stand_in(len(token)), token) if token else text


class SharedViews:
    """`views(scored, links, token, compact=...)`: the PaperView that `paper_view` would build,
    with the stand-in for `token`, one per paper, reasons, interest, layout and links; kept for
    every later reader. Bounded: starts over past `size` views."""

    def __init__(self, size: int = VIEWS_KEPT) -> None:
        self.size = size
        self._views: dict[tuple[object, ...], PaperView] = {}

    def __call__(
        self, scored: ScoredPaper, links: DigestLinks, token: str, *, compact: bool = False
    ) -> PaperView:
        slot = stand_in(len(token))
        paper_id = scored.paper.paper_id
        up, down = links.feedback.get(paper_id, ("", ""))
        steer = tuple(
            (label, url.replace(token, slot)) for label, url in links.steer.get(paper_id, ())
        )
        up, down = up.replace(token, slot), down.replace(token, slot)
        # Everything paper_view reads: the paper (its facts, one per paper), the reasons, the
        # interest, the layout and the paper's links.
        key = (facts_of(scored.paper), scored.reasons, scored.interest, compact, up, down, steer)
        view = self._views.get(key)
        if view is None:
            if len(self._views) >= self.size:
                self._views.clear()
            own = DigestLinks("", "", {paper_id: (up, down)}, steer={paper_id: steer})
            view = self._views[key] = paper_view(scored, own, compact=compact, shared=True)
        return view
