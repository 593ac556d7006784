"""The per-paper links of a digest: "More like this" / "Less like this" (``/feedback/…``) and
"Mute <author>" / "Not interested in “<phrase>”" (``/steer/…``), all under ONE signed token.

A digest signs one token of purpose ``digest`` (payload ``{"s": subscriber id}``, 90 days) and
every paper link carries it in its path, the action in its query string:

    /feedback/<digest token>?p=<paper id>&v=1|-1[&i=<interest id>]
    /steer/<digest token>?p=<paper id>&k=author|phrase&t=<text>[&i=<interest id>]

so a digest costs one HMAC instead of ~46 (one per link, as before: those per-link tokens,
purposes ``feedback`` and ``steer``, are still read while they are valid).

Why the unsigned query is safe: the same email carries the manage link, which lets its holder
change everything about the subscription; the digest token grants no more than that, and less:
a vote, a liked paper or an exclude on this subscriber's own interests. The server checks
everything that is no longer signed (``p``, ``v``, ``i`` integers, ``v`` 1 or -1, the paper
exists, the interest is looked up among this subscriber's only, ``k`` author or phrase, ``t``
one of the paper's authors or a phrase of its title: see ``belongs``); GET still changes
nothing, the POST still needs CSRF, and the steer page is still not submitted by script.

Pure: string formatting only (no database, no web framework).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from urllib.parse import quote

from service.records import Candidate, DigestLinks, ScoredPaper
from service.subscribers.steering import MAX_TEXT, steer_choices, steer_label
from service.subscribers.tokens import Signer

KINDS = ("author", "phrase")


def digest_token(signer: Signer, subscriber_id: int) -> str:
    """The one signed token every paper link of a digest (or of an archive page) carries."""
    return signer.make("digest", s=subscriber_id)


def interest_query(interest_id: int | None) -> str:
    """``&i=<id>`` naming the interest a paper was picked for, "" for none."""
    return "" if interest_id is None else f"&i={interest_id}"


def feedback_url(base: str, token: str, paper_id: int, vote: int, interest_id: int | None) -> str:
    """``{base}/feedback/{token}?p=…&v=…[&i=…]``; ``base`` "" gives the site-relative path."""
    return f"{base}/feedback/{token}?p={paper_id}&v={vote}{interest_query(interest_id)}"


@lru_cache(maxsize=8192)
def _quoted(text: str) -> str:
    """``text`` percent-encoded for a query, once per author or phrase (each is in many digests)."""
    return quote(text, safe="")


def steer_url(
    base: str, token: str, paper_id: int, kind: str, text: str, interest_id: int | None
) -> str:
    """``{base}/steer/{token}?p=…&k=…&t=…[&i=…]``, the text percent-encoded."""
    return (
        f"{base}/steer/{token}?p={paper_id}&k={kind}&t={_quoted(text)}{interest_query(interest_id)}"
    )


def _clean(text: str) -> str:
    return " ".join(text.split()).casefold()


def belongs(paper: Candidate, kind: str, text: str) -> bool:
    """Whether a steering link's text is the paper's own: an author of the paper (case and
    spaces ignored; a name cut at ``steering.MAX_TEXT`` as ``mute_author`` cuts it), or a
    phrase occurring in its title (casefolded, whitespace normalised)."""
    wanted = _clean(text)
    if not wanted:
        return False
    if kind == "author":
        for name in paper.authors:
            spaced = " ".join(str(name).split())
            if wanted in (spaced.casefold(), spaced[:MAX_TEXT].casefold()):
                return True
        return False
    return kind == "phrase" and wanted in _clean(paper.title)


def digest_links(
    signer: Signer, base: str, subscriber_id: int, paper_ids: Sequence[int],
    papers: Sequence[ScoredPaper] = (), interest_ids: Mapping[str, int] | None = None,
) -> DigestLinks:  # fmt: skip
    """A digest's links: manage, unsubscribe, archive, and for each of ``paper_ids`` "more" /
    "less like this"; ``papers`` (the picks) also get "mute" / "not interested" ones. Every
    paper link carries the digest's one signed token. A pick's links name the interest it was
    picked for (``i``, from ``interest_ids``: name → id), so "more like this" and an exclude land
    on that interest. Delivery builds every digest's links here, and so do the samples that
    bench/build.py and the previews render."""
    token = digest_token(signer, subscriber_id)
    ids = interest_ids or {}
    picked_for = {
        scored.paper.paper_id: ids[scored.interest]
        for scored in papers
        if scored.interest is not None and scored.interest in ids
    }
    steer = {
        scored.paper.paper_id: tuple(
            (steer_label(kind, text), steer_url(base, token, scored.paper.paper_id, kind, text, picked_for.get(scored.paper.paper_id)))
            for kind, text in steer_choices(scored)
        )
        for scored in papers
    }  # fmt: skip
    feedback = {
        pid: (
            feedback_url(base, token, pid, 1, picked_for.get(pid)),
            feedback_url(base, token, pid, -1, picked_for.get(pid)),
        )
        for pid in paper_ids
    }
    manage = signer.make("manage", s=subscriber_id)
    return DigestLinks(
        manage=f"{base}/manage/{manage}",
        unsubscribe=f"{base}/unsubscribe/{signer.make('unsubscribe', s=subscriber_id)}",
        feedback=feedback,  # type: ignore[arg-type]
        archive=f"{base}/archive/{manage}",
        steer=steer,
        token=token,
    )
