"""Pure parts of the web front: topic suggestions, CSRF pairing, token redaction."""

from __future__ import annotations

from starlette.requests import Request

from service.subscribers.suggest import suggest_topics, title_phrases
from service.subscribers.tokens import Signer
from service.web.csrf import COOKIE, Csrf
from service.web.links import redact_paths


def test_suggestions_put_what_recurs_first_then_single_keywords() -> None:
    papers = [
        ("Diffusion Models for Protein Design", ["protein design", "Diffusion"], ["q-bio.BM"]),
        ("Fast Diffusion Models via Distillation", ["diffusion"], ["cs.LG"]),
        ("Attention Is All You Need for Protein Design", [], ["cs.LG"]),
        ("A Unique Title", [], []),
    ]
    # cs.LG, "diffusion" and "protein design" (a keyword, and a phrase of two titles) recur, then
    # the recurring title phrase; a keyword or category of one paper comes last.
    assert suggest_topics(papers) == [
        "category:cs.LG", "diffusion", "protein design", "diffusion models", "category:q-bio.BM",
    ]  # fmt: skip
    assert suggest_topics(papers, limit=2) == ["category:cs.LG", "diffusion"]
    assert title_phrases("All You Need: Large Language Models") == {"language models"}
    assert suggest_topics([]) == []


def request_with(cookie: str | None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request(
        {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    )


def test_csrf_field_must_be_signed_and_name_the_cookie() -> None:
    csrf = Csrf(Signer("secret-one"))
    field, cookie = csrf.issue(request_with(None))
    assert cookie is not None
    assert csrf.valid(request_with(cookie), field)
    assert csrf.issue(request_with(cookie))[1] is None  # a good cookie is kept
    assert not csrf.valid(request_with("another-visitors-cookie-value"), field)
    assert not csrf.valid(request_with(None), field)
    assert not csrf.valid(request_with(cookie), "")
    assert not csrf.valid(
        request_with(cookie), Csrf(Signer("other-secret")).issue(request_with(cookie))[0]
    )
    assert not csrf.valid(request_with(cookie), Signer("secret-one").make("manage", c=cookie))


def test_tokens_in_paths_are_redacted() -> None:
    line = '127.0.0.1:5 - "GET /manage/eyJzIjoxfQ.abc.def HTTP/1.1" 200 and /feed/eyJ.x.y.atom, /static/style.css'
    assert (
        redact_paths(line)
        == '127.0.0.1:5 - "GET /manage/… HTTP/1.1" 200 and /feed/…, /static/style.css'
    )
