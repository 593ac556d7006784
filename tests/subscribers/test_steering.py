"""What the email's steering links offer: the first author, and a word that is not the reason."""

from __future__ import annotations

from service.records import Candidate, Reason, ScoredPaper
from service.subscribers.steering import exclude_phrase, mute_author, steer_choices


def paper(pid: int, title: str, authors: tuple[str, ...] = ()) -> Candidate:
    return Candidate(paper_id=pid, key=f"k{pid}", title=title, abstract=title, authors=authors)


def test_the_offered_word_is_never_what_the_reader_asked_for() -> None:
    p = paper(1, "Active Fuzzing for Testing and Securing Cyber-Physical Systems", (" ", "Ann Lee"))
    scored = ScoredPaper(p, 1.0, (Reason('matches "testing"', "testing", ("Testing",)),))
    assert steer_choices(scored) == (("author", "Ann Lee"), ("phrase", "Cyber-Physical"))
    assert exclude_phrase(paper(2, "Deep Learning Models"), ()) == ""  # only generic words
    assert exclude_phrase(paper(3, "Diffusion Models for Audio"), ["diffusion"]) == "audio"
    assert mute_author(paper(4, "Untitled")) == ""


def test_a_sent_digest_never_offers_the_word_its_stored_reason_matched() -> None:
    # A delivery stores only the reason's label; the digest is built from it.
    p = paper(5, "Scalable Diffusion Transformers", ("Ann Lee",))
    stored = ScoredPaper(p, 1.0, (Reason('matches "transformers"'),))
    assert steer_choices(stored) == (("author", "Ann Lee"), ("phrase", "diffusion"))
    partly = ScoredPaper(p, 1.0, (Reason('partly matches "video diffusion" (diffusion)'),))
    assert steer_choices(partly) == (("author", "Ann Lee"), ("phrase", "transformers"))
    trending = ScoredPaper(p, 1.0, (Reason("trending: 42 upvotes"),))  # names no words
    assert steer_choices(trending)[1] == ("phrase", "transformers")
