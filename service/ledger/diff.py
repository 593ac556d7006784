"""Pure: incoming listings vs the stored ledger → what is new, updated or unchanged.

One paper is one row whichever source it came from, under one canonical key: the arXiv id
without its version where there is one, otherwise ``title:`` and the normalised title. A paper
first stored under its title key moves to its arXiv key the first time a source names the id.

Merging never loses information: a field a source does not know (None, empty) keeps the stored
value; counts (upvotes, comments, stars, author count) take the latest known value; text (title,
abstract, authors) is filled when missing or replaced by a newer arXiv version, so two sources
that word an abstract differently do not flip the row back and forth on every ingest. Text stored
before sources converted TeX (`Schr\\"odinger`) is replaced by the same text in Unicode the next
time a source lists the paper.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from service.records import Listing
from service.sources.tex import has_tex, tex_clean

TITLE_KEY_PREFIX = "title:"
_MAX_KEY = 300

#: Stored fields that a listing can set, and how each merges.
LATEST = ("upvotes", "comments", "stars", "author_count")
FILL = (
    "published",
    "abstract_url",
    "pdf_url",
    "code_url",
    "project_url",
    "thumbnail_url",
    "ai_summary",
)
TEXT = ("title", "abstract")
LISTS_FILL = ("authors", "ai_keywords")
LISTS_UNION = ("categories",)
PAPER_FIELDS = (
    "arxiv_id",
    "arxiv_version",
    *TEXT,
    *LATEST,
    *FILL,
    *LISTS_FILL,
    *LISTS_UNION,
    "sources",
)

PaperState = dict[str, Any]


def normalise_title(title: str) -> str:
    """Case-, accent-, punctuation- and spacing-insensitive form of a title."""
    decomposed = unicodedata.normalize("NFKD", title)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[\W_]+", " ", stripped).strip()


def title_key(title: str) -> str:
    return (TITLE_KEY_PREFIX + normalise_title(title))[:_MAX_KEY]


def canonical_key(listing: Listing) -> str:
    """The ledger key of a listing: its arXiv id when known, else its title key."""
    return listing.arxiv_id if listing.arxiv_id else title_key(listing.title)


@dataclass(slots=True)
class Change:
    """What the ledger must do for one incoming listing."""

    kind: Literal["new", "updated", "unchanged"]
    key: str
    listing: Listing
    fields: dict[str, Any] = field(
        default_factory=dict
    )  # all fields if new, changed ones if updated
    old_key: str | None = None  # set when a title-keyed paper moves to its arXiv key


def listing_state(listing: Listing) -> PaperState:
    """The stored-field view of a listing as if it were a new paper."""
    state: PaperState = {}
    for name in PAPER_FIELDS:
        if name == "sources":
            state[name] = [listing.source]
            continue
        value = getattr(listing, name)
        state[name] = list(value) if isinstance(value, tuple) else value
    return state


def merge(stored: PaperState, listing: Listing) -> dict[str, Any]:
    """The fields of ``stored`` that ``listing`` changes, with their new values."""
    changes: dict[str, Any] = {}
    incoming = listing_state(listing)
    newer_version = (
        incoming["arxiv_version"] is not None
        and (stored.get("arxiv_version") or 0) < incoming["arxiv_version"]
    )
    if incoming["arxiv_id"] and stored.get("arxiv_id") != incoming["arxiv_id"]:
        changes["arxiv_id"] = incoming["arxiv_id"]
    if newer_version:
        changes["arxiv_version"] = incoming["arxiv_version"]
    for name in TEXT:
        value = incoming[name]
        old = stored.get(name)
        if value and (not old or (newer_version and old != value) or _tex_of(old, value)):
            changes[name] = value
    for name in LATEST:
        value = incoming[name]
        if value is not None and stored.get(name) != value:
            changes[name] = value
    for name in FILL:
        value = incoming[name]
        if value and (stored.get(name) is None or (newer_version and stored.get(name) != value)):
            changes[name] = value
    for name in LISTS_FILL:
        value = incoming[name]
        old = stored.get(name)
        if value and (not old or (newer_version and old != value) or _tex_of(old, value)):
            changes[name] = value
    for name in (*LISTS_UNION, "sources"):
        have = list(stored.get(name) or [])
        extra = [v for v in incoming[name] if v not in have]
        if extra:
            changes[name] = have + extra
    return changes


def _tex_of(old: Any, new: Any) -> bool:
    """Whether ``old`` is ``new`` as TeX source: stored before sources converted TeX."""
    if isinstance(old, str) and isinstance(new, str):
        return old != new and has_tex(old) and tex_clean(old) == new
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and old != new:
        return all(
            a == b or (isinstance(a, str) and _tex_of(a, b)) for a, b in zip(old, new, strict=True)
        )
    return False


def diff(listings: Iterable[Listing], known: Mapping[str, PaperState]) -> list[Change]:
    """One Change per listing, in order; ``known`` maps stored keys to their stored fields.

    Listings of the same paper within one input are merged in order, so the second sighting
    in a file is an update of the first, not a second new paper.
    """
    working: dict[str, PaperState] = {key: dict(state) for key, state in known.items()}
    changes: list[Change] = []
    for listing in listings:
        key = canonical_key(listing)
        old_key = None
        stored = working.get(key)
        if stored is None and listing.arxiv_id:
            # A paper first stored from a page without ids is the same paper.
            tkey = title_key(listing.title)
            if tkey in working:
                old_key, stored = tkey, working.pop(tkey)
                working[key] = stored
        if stored is None:
            state = listing_state(listing)
            working[key] = state
            changes.append(Change("new", key, listing, dict(state)))
            continue
        updated = merge(stored, listing)
        stored.update(updated)
        if old_key is not None:
            changes.append(Change("updated", key, listing, updated, old_key=old_key))
        elif updated:
            changes.append(Change("updated", key, listing, updated))
        else:
            changes.append(Change("unchanged", key, listing))
    return _fold_batch(changes)


def _fold_batch(changes: list[Change]) -> list[Change]:
    """Fold repeated keys within one batch: a paper new in this batch stays one 'new' change."""
    first: dict[str, Change] = {}
    folded: list[Change] = []
    for change in changes:
        earlier = first.get(change.key)
        if earlier is None:
            first[change.key] = change
            folded.append(change)
        elif earlier.kind == "new":
            earlier.fields.update(change.fields)
            folded.append(dataclasses.replace(change, kind="unchanged", fields={}))
        else:
            if change.kind == "updated":
                if earlier.kind != "updated":
                    earlier.kind = "updated"
                earlier.fields.update(change.fields)
                earlier.old_key = earlier.old_key or change.old_key
            folded.append(dataclasses.replace(change, kind="unchanged", fields={}, old_key=None))
    return folded
