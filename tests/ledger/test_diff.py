"""The pure diff: canonical keys, merging, and counting within one batch."""

from __future__ import annotations

from service.ledger.diff import canonical_key, diff, listing_state, normalise_title, title_key
from service.records import Listing


def test_title_key_ignores_case_accents_punctuation_and_spacing() -> None:
    assert title_key("Café:  A  Study!") == title_key("cafe - a study")
    assert normalise_title("Learning to (Learn at Test Time)") == "learning to learn at test time"


def test_canonical_key_prefers_the_arxiv_id() -> None:
    assert canonical_key(Listing(title="X", arxiv_id="2508.13426")) == "2508.13426"
    assert canonical_key(Listing(title="X")) == "title:x"


def test_new_then_unchanged_then_updated_with_more_information() -> None:
    first = Listing(title="Paper A", abstract="About A.")
    [change] = diff([first], {})
    assert change.kind == "new" and change.fields["title"] == "Paper A"

    known = {change.key: listing_state(first)}
    assert [c.kind for c in diff([first], known)] == ["unchanged"]

    richer = Listing(title="paper a", abstract="About A.", upvotes=12, author_count=4)
    [update] = diff([richer], known)
    assert update.kind == "updated"
    assert update.fields == {"upvotes": 12, "author_count": 4}


def test_missing_fields_never_erase_stored_ones() -> None:
    stored = listing_state(Listing(title="P", abstract="Long abstract.", upvotes=5, author_count=3))
    [change] = diff([Listing(title="P")], {"title:p": stored})
    assert change.kind == "unchanged"


def test_differently_worded_abstract_does_not_flip_the_row() -> None:
    stored = listing_state(Listing(title="P", abstract="From the page."))
    [change] = diff(
        [Listing(title="P", abstract="From the API, with \\LaTeX.")], {"title:p": stored}
    )
    assert change.kind == "unchanged"


def test_a_newer_arxiv_version_replaces_text() -> None:
    stored = listing_state(
        Listing(title="Old title", abstract="Old.", arxiv_id="2501.00001", arxiv_version=1)
    )
    [change] = diff(
        [Listing(title="New title", abstract="New.", arxiv_id="2501.00001", arxiv_version=2)],
        {"2501.00001": stored},
    )
    assert change.kind == "updated"
    assert change.fields["title"] == "New title" and change.fields["arxiv_version"] == 2


def test_title_keyed_paper_moves_to_its_arxiv_key() -> None:
    stored = listing_state(Listing(title="Paper A", abstract="About A."))
    [change] = diff([Listing(title="Paper A", arxiv_id="2502.00002")], {"title:paper a": stored})
    assert change.kind == "updated"
    assert change.key == "2502.00002" and change.old_key == "title:paper a"


def test_the_same_paper_twice_in_one_batch_is_one_new_paper() -> None:
    changes = diff(
        [Listing(title="Dup", upvotes=1), Listing(title="dup", upvotes=3, author_count=2)], {}
    )
    assert [c.kind for c in changes] == ["new", "unchanged"]
    assert changes[0].fields["upvotes"] == 3 and changes[0].fields["author_count"] == 2


def test_a_new_source_is_recorded_as_an_update() -> None:
    stored = listing_state(Listing(title="P", source="file"))
    [change] = diff([Listing(title="P", source="hf_daily")], {"title:p": stored})
    assert change.kind == "updated" and change.fields == {"sources": ["file", "hf_daily"]}


def test_text_stored_as_tex_is_replaced_by_its_unicode_form() -> None:
    # Stored before sources converted TeX; the same version listed again, now in Unicode.
    raw = Listing(
        title='The Schr\\"odinger bridge', abstract="Gains of 85.1\\% with $\\alpha$-decay.",
        authors=("Kad{\\i}o\\u{g}lu", "Ann Lee"), arxiv_id="2501.00003", arxiv_version=1,
    )  # fmt: skip
    fresh = Listing(
        title="The Schrödinger bridge", abstract="Gains of 85.1% with α-decay.",
        authors=("Kadıoğlu", "Ann Lee"), arxiv_id="2501.00003", arxiv_version=1,
    )  # fmt: skip
    stored = listing_state(raw)
    [change] = diff([fresh], {"2501.00003": stored})
    assert change.kind == "updated"
    assert change.fields == {
        "title": "The Schrödinger bridge",
        "abstract": "Gains of 85.1% with α-decay.",
        "authors": ["Kadıoğlu", "Ann Lee"],
    }
    stored.update(change.fields)
    assert [c.kind for c in diff([fresh], {"2501.00003": stored})] == ["unchanged"]


def test_other_wording_with_tex_still_does_not_flip_the_row() -> None:
    stored = listing_state(Listing(title="P", abstract="Gains of 85.1\\% on all tasks."))
    [change] = diff(
        [Listing(title="P", abstract="Gains of 85% on all tasks.")], {"title:p": stored}
    )
    assert change.kind == "unchanged"
