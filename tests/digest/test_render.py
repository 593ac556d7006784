"""Digest rendering: subject, escaping, URL vetting, inlined HTML, wrapped text, resources."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html as htmllib
import random
import re
import shutil
import subprocess
import textwrap

import pytest

from service.digest.paper_view import authors_line, excerpt
from service.digest.render import Renderer, summary_line
from service.digest.text import clean_text, safe_url, wrap_text
from service.records import (
    Candidate,
    Digest,
    DigestLinks,
    Reason,
    RenderedDigest,
    ScoredPaper,
    Topic,
)
from service.resources import alembic_dir, alembic_ini, sample_listings_path, templates_dir
from tests.support.requirements import need

FRIDAY = dt.date(2025, 11, 21)
BASE = "https://paperboy.example.org"
ABSTRACT = (
    "Reinforcement learning from human feedback has been crucial to recent language models. "
    "However, it is often a complex and brittle process. In the classical framework a reward "
    "model is trained first. A fourth sentence that the excerpt must leave out."
)
TOPICS = (
    Topic("keyword", "reinforcement learning"),
    Topic("keyword", "scaling laws"),
    Topic("author", "Yann LeCun"),
    Topic("exclude", "quantum"),
)


def paper(i: int, **overrides: object) -> ScoredPaper:
    fields: dict[str, object] = {
        "paper_id": i,
        "key": f"arxiv:2511.{i:05d}",
        "title": f"Scaling laws for reward models, part {i}",
        "abstract": ABSTRACT,
        "authors": ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
        "published": dt.date(2025, 11, 20),
        "sources": ("arxiv", "hf"),
        "upvotes": 42,
        "stars": 1234,
        "abstract_url": f"https://arxiv.org/abs/2511.{i:05d}",
        "pdf_url": f"https://arxiv.org/pdf/2511.{i:05d}",
        "code_url": f"https://github.com/example/repo{i}?tab=readme&ref=paperboy",
        "project_url": f"https://example.org/project/{i}",
    }
    fields.update(overrides)
    reasons = (Reason('matches "reinforcement learning"'), Reason("trending: 42 upvotes"))
    return ScoredPaper(Candidate(**fields), 1.0 / i, reasons)  # type: ignore[arg-type]


def digest(
    papers: list[ScoredPaper], *, topics: tuple[Topic, ...] = TOPICS, day: dt.date = FRIDAY
) -> Digest:
    feedback = {
        p.paper.paper_id: (
            f"{BASE}/feedback/{p.paper.paper_id}/up?sig=" + "a" * 70,
            f"{BASE}/feedback/{p.paper.paper_id}/down?sig=b&x=1",
        )
        for p in papers
    }
    links = DigestLinks(
        f"{BASE}/manage/tok?x=1&y=2", f"{BASE}/unsubscribe/tok", feedback, f"{BASE}/archive/tok"
    )
    return Digest("reader@example.org", day, tuple(papers), links, topics)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(templates_dir())


@pytest.fixture(scope="module")
def seven(renderer: Renderer) -> RenderedDigest:
    return renderer.render(digest([paper(i) for i in range(1, 8)]))


def hrefs(html: str) -> list[str]:
    return [htmllib.unescape(h) for h in re.findall(r'href="([^"]*)"', html)]


# --------------------------------------------------------------------------- subject


def test_subject_says_what_is_inside(seven: RenderedDigest, renderer: Renderer) -> None:
    assert seven.subject == "7 papers: Scaling laws for reward models, part 1"
    one = renderer.render(digest([paper(1)], day=dt.date(2025, 3, 2)))
    assert one.subject == "1 paper: Scaling laws for reward models, part 1"


def test_subject_fits_78_characters_and_one_line(renderer: Renderer) -> None:
    title = "A very long title\r\nBcc: x@y.z about " + "scaling " * 20
    rendered = renderer.render(digest([paper(1, title=title), paper(2)]))
    assert len(rendered.subject) <= 78
    assert rendered.subject.startswith("2 papers: A very long title Bcc: x@y.z about scaling")
    assert rendered.subject.endswith("…")
    assert "\r" not in rendered.subject and "\n" not in rendered.subject


def test_subject_of_an_empty_digest_uses_the_site_name_on_one_line() -> None:
    rendered = Renderer(templates_dir(), site_name="Evil\r\nBcc: x@y.z").render(digest([]))
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert rendered.subject == "Evil Bcc: x@y.z: Nothing new for your topics on Fri 21 Nov"


def test_weekly_digest_never_calls_itself_daily(renderer: Renderer) -> None:
    weekly = dataclasses.replace(digest([paper(1), paper(2)]), cadence="weekly")
    rendered = renderer.render(weekly)
    assert rendered.subject == "2 papers this week: Scaling laws for reward models, part 1"
    for part in (rendered.html, rendered.text):
        assert "daily" not in part
        assert "weekly digest" in part
    quiet = renderer.render(dataclasses.replace(digest([]), cadence="weekly", new_papers=0))
    assert quiet.subject == "Paperboy: No new papers were announced this week"
    assert "daily" not in quiet.html and "today" not in quiet.text


# --------------------------------------------------------------------------- summary


def test_summary_names_keyword_topics_only(seven: RenderedDigest) -> None:
    line = "7 papers on reinforcement learning and scaling laws"
    assert line in seven.html
    assert line in seven.text
    assert "LeCun" not in seven.html and "quantum" not in seven.html


def test_summary_without_keywords_is_just_the_count(renderer: Renderer) -> None:
    rendered = renderer.render(digest([paper(1), paper(2)], topics=(Topic("category", "cs.LG"),)))
    assert re.search(r">\s*2 papers\s*</td>", rendered.html)
    assert "\n2 papers\n" in rendered.text


def test_summary_line_lists_three_then_counts_the_rest() -> None:
    topics = [Topic("keyword", t) for t in ("a", "b", "B", "c", "d", "e")]
    assert summary_line(1, topics) == "1 paper on a, b, c and 2 more topics"
    assert summary_line(3, topics[:1]) == "3 papers on a"


# --------------------------------------------------------------------------- untrusted data


def test_markup_in_title_is_escaped_in_html_and_literal_in_text(renderer: Renderer) -> None:
    title = "<script>alert('x')</script> & <b>bold</b>"
    evil = paper(1, title=title, abstract="Uses <img src=x onerror=alert(1)> tags. Second.")
    rendered = renderer.render(digest([evil]))
    assert "<script>" not in rendered.html
    assert "<img src=x" not in rendered.html
    assert "&lt;script&gt;alert(" in rendered.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html
    assert title in rendered.text
    assert "<img src=x onerror=alert(1)>" in rendered.text
    assert "&lt;" not in rendered.text


def test_unsafe_urls_never_reach_an_href(renderer: Renderer) -> None:
    evil = paper(
        1,
        abstract_url="javascript:alert(1)",
        pdf_url="data:text/html;base64,PHNjcmlwdD4=",
        code_url=" JaVaScRiPt:alert(2)",
        project_url="https://example.org/fine",
    )
    links = DigestLinks(f"{BASE}/m", f"{BASE}/u", {1: ("javascript:up()", f"{BASE}/down")})
    rendered = renderer.render(Digest("r@example.org", FRIDAY, (evil,), links))
    found = hrefs(rendered.html)
    assert found and all(h.startswith(("https://", "http://")) for h in found)
    for part in (rendered.html.lower(), rendered.text.lower()):
        assert "javascript" not in part
        assert "data:text" not in part
    assert "https://example.org/fine" in found  # the safe link survives
    assert f"{BASE}/down" in found


def test_title_links_to_pdf_when_no_abstract_url(renderer: Renderer) -> None:
    rendered = renderer.render(digest([paper(1, abstract_url=None, title="Only a PDF")]))
    assert re.search(
        r'<a href="https://arxiv.org/pdf/2511.00001"[^>]*>Only a PDF</a>', rendered.html
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/1", "https://arxiv.org/abs/1"),
        ("  http://x.org/a?b=1&c=2 ", "http://x.org/a?b=1&c=2"),
        ("javascript:alert(1)", ""),
        ("java\tscript:alert(1)", ""),
        ("data:text/html,hi", ""),
        ("vbscript:x", ""),
        ("//evil.example/x", ""),
        ("/relative/path", ""),
        ("https://x.org/a\nb", ""),
        ("https://", ""),
        ("http://[::1", ""),
        (None, ""),
        (42, ""),
    ],
)
def test_safe_url(url: object, expected: str) -> None:
    assert safe_url(url) == expected


# --------------------------------------------------------------------------- HTML


def test_html_is_inlined_keeps_dark_mode_and_stays_small(renderer: Renderer) -> None:
    rendered = renderer.render(digest([paper(i) for i in range(1, 26)]))
    assert len(rendered.html.encode("utf-8")) < 90_000
    assert re.search(r'<h2 class="title" dir="auto" style="[^"]*font-size:18px', rendered.html)
    assert re.search(r'<td class="paper" style="[^"]*padding', rendered.html)
    style = re.search(r"<style[^>]*>(.*?)</style>", rendered.html, re.S)
    assert style, "the media queries need a <style> block"
    assert "prefers-color-scheme: dark" in style.group(1)
    assert "!important" in style.group(1)  # or the inline styles would win
    assert "<link" not in rendered.html
    assert rendered.html.count('class="paper"') == 10
    assert rendered.html.count('class="compact"') == 15


def test_html_layout_and_preheader(seven: RenderedDigest) -> None:
    assert '<table role="presentation"' in seven.html
    assert "max-width:600px" in seven.html
    assert 'name="viewport"' in seven.html
    assert re.search(r'<div class="preheader" style="[^"]*display:none', seven.html)
    assert seven.preheader.startswith("Scaling laws for reward models, part 1 · ")
    assert htmllib.escape(seven.preheader, quote=False) in seven.html
    assert "Friday 21 November 2025" in seven.html


def test_paper_details(renderer: Renderer) -> None:
    papers = [
        paper(1),
        paper(2, authors=("Ada Lovelace", "Alan Turing")),
        paper(3, authors=(), author_count=7, upvotes=1, stars=None, sources=("file", "arxiv")),
    ]
    rendered = renderer.render(digest(papers))
    for part in (rendered.html, rendered.text):
        assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in part
        assert "Ada Lovelace, Alan Turing\n" in part or "Ada Lovelace, Alan Turing<" in part
        assert "arXiv:2511.00001 · arXiv, Hugging Face · 20 Nov 2025 · 42 upvotes" in part.replace(
            "\n    ", " "
        )
        assert "arXiv:2511.00003 · arXiv · 20 Nov 2025 · 7 authors · 1 upvote" in part
        assert "Edsger" not in part
        assert "fourth sentence" not in part
    why = re.search(r'<p class="why"[^>]*>(.*?)</p>', rendered.html, re.S)
    assert why and htmllib.unescape(why.group(1)) == (
        '<strong>Why:</strong> matches "reinforcement learning"; trending: 42 upvotes'
    )
    assert 'Why: matches "reinforcement learning"; trending: 42 upvotes' in rendered.text
    assert "More like this" in rendered.html and "Less like this" in rendered.html


def test_excerpt_prefers_ai_summary_else_first_sentences() -> None:
    base = paper(1).paper
    assert (
        excerpt(Candidate(**{**_fields(base), "ai_summary": "Short\nsummary."})) == "Short summary."
    )
    text = excerpt(base)
    assert text.startswith("Reinforcement learning from human feedback")
    assert text.endswith("a reward model is trained first.")
    long = Candidate(**{**_fields(base), "abstract": "word " * 300})
    cut = excerpt(long)
    assert len(cut) <= 400 and cut.endswith("…")


def test_authors_line_marks_partial_lists() -> None:
    base = _fields(paper(1).paper)
    assert authors_line(Candidate(**{**base, "authors": ("A", "B")})) == "A, B"
    assert (
        authors_line(Candidate(**{**base, "authors": ("A", "B"), "author_count": 5}))
        == "A, B et al."
    )
    assert authors_line(Candidate(**{**base, "authors": ("A", "B", "C", "D")})) == "A, B, C et al."
    assert authors_line(Candidate(**{**base, "authors": ()})) == ""


def _fields(candidate: Candidate) -> dict[str, object]:
    return {name: getattr(candidate, name) for name in Candidate.__slots__}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- text


def test_text_lines_fit_78_columns_except_links(renderer: Renderer) -> None:
    long_title = "An extraordinarily long paper title " * 5
    papers = [
        paper(1, title=long_title, ai_summary="Summary sentence. " * 40),
        *[paper(i) for i in range(2, 6)],
    ]
    rendered = renderer.render(digest(papers))
    assert "<" not in rendered.text.replace("<script>", "")  # real text, not stripped HTML
    link = r"[A-Z][A-Za-z ]+: https?://\S+"
    for line in rendered.text.splitlines():
        if len(line) > 78:
            assert re.fullmatch(rf"    {link}(?: · {link})*", line), line


def test_text_part_gives_each_paper_one_line_of_links(seven: RenderedDigest) -> None:
    lines = seven.text.splitlines()
    for i in range(1, 8):
        (line,) = [line for line in lines if f"/abs/2511.{i:05d}" in line]
        assert line.startswith(f"    Abstract: https://arxiv.org/abs/2511.{i:05d} · PDF: ")
        assert f"More like this: {BASE}/feedback/{i}/up?sig=" in line
        assert line.endswith(f"Less like this: {BASE}/feedback/{i}/down?sig=b&x=1")
        assert len(line.encode()) <= 998
    assert not any(line.strip().startswith(("More like this", "Less like this")) for line in lines)


def test_wrap_text_matches_textwrap() -> None:
    rng = random.Random(5)
    words = ["a", "of", "model", "x" * 77, "https://example.org/" + "p" * 90, "größe", "—", "ab-cd"]
    for _ in range(500):
        text = " \n\t".join(rng.choices(words, k=rng.randint(0, 40)))
        width = rng.choice([20, 40, 78])
        indent, first = rng.choice([("", None), ("    ", "1.  "), ("  ", "")])
        expected = textwrap.wrap(
            clean_text(text),
            width=width,
            initial_indent=indent if first is None else first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        got = wrap_text(text, width, indent=indent, first=first)
        assert got == ("\n".join(expected) if expected else (first or indent).rstrip())


def test_clean_text_drops_controls_and_collapses_space() -> None:
    assert clean_text("a\x00b\x1b[31m\u0085c\u00a0\u2028d\x7f\x9f  e\r\n") == "a b [31m c d e"
    assert clean_text(None) == "" and clean_text("") == ""


def test_every_link_appears_in_both_parts(seven: RenderedDigest) -> None:
    found = hrefs(seven.html)
    expected = [
        "https://arxiv.org/abs/2511.00003",
        "https://arxiv.org/pdf/2511.00003",
        "https://github.com/example/repo3?tab=readme&ref=paperboy",
        "https://example.org/project/3",
        f"{BASE}/feedback/3/up?sig=" + "a" * 70,
        f"{BASE}/feedback/3/down?sig=b&x=1",
        f"{BASE}/manage/tok?x=1&y=2",
        f"{BASE}/unsubscribe/tok",
    ]
    for url in expected:
        assert url in found, url
        assert url in seven.text, url
    assert "Abstract: https://arxiv.org/abs/2511.00003" in seven.text
    assert "Unsubscribe: https://paperboy.example.org/unsubscribe/tok" in seven.text


def test_footer_says_why_and_how_to_leave(seven: RenderedDigest) -> None:
    assert "You get this email because reader@example.org subscribed" in seven.html
    assert "You get this email because reader@example.org subscribed" in seven.text
    assert ">Manage preferences</a>" in seven.html and ">Unsubscribe</a>" in seven.html


def test_quiet_day_is_a_short_friendly_note(renderer: Renderer) -> None:
    rendered = renderer.render(digest([]))
    assert rendered.subject == "Paperboy: Nothing new for your topics on Fri 21 Nov"
    assert rendered.preheader == "Nothing new for your topics today"
    for part in (rendered.html, rendered.text):
        assert "Nothing new for your topics today" in part
        assert "Your next digest will come as soon as new papers match your topics." in part
        assert "0 papers" not in part
    assert re.search(
        r'<a href="https://paperboy.example.org/manage/tok\?x=1&amp;y=2"[^>]*>'
        r"Add or change your topics</a>",
        rendered.html,
    )
    assert "Manage preferences: https://paperboy.example.org/manage/tok?x=1&y=2" in rendered.text
    assert 'class="paper"' not in rendered.html
    assert len(rendered.text.splitlines()) < 20


def test_quiet_day_without_a_manage_link(renderer: Renderer) -> None:
    links = DigestLinks("", f"{BASE}/unsubscribe/tok")
    rendered = renderer.render(Digest("r@example.org", FRIDAY, (), links))
    assert "Add or change your topics" not in rendered.html
    assert "preferences page" not in rendered.text
    assert ">Unsubscribe</a>" in rendered.html


# --------------------------------------------------------------------------- resources


def test_resource_paths_exist() -> None:
    assert (templates_dir() / "email" / "digest.html").is_file()
    assert (templates_dir() / "email" / "digest.txt").is_file()
    assert alembic_dir().is_dir()
    assert alembic_ini().is_file()
    assert sample_listings_path().parts[-3:] == ("service", "data", "sample_listings.jsonl")


def test_a_realistic_25_paper_digest_stays_under_100_kb(renderer: Renderer) -> None:
    from service.digest.samples import sample_digest, sample_papers

    papers = sorted(sample_papers(), key=lambda p: -len(p.abstract))[:25]  # the wordiest
    html = renderer.render(sample_digest(papers)).html
    assert html.count('class="paper"') == 10 and html.count('class="compact"') == 15
    assert len(html.encode("utf-8")) < 90_000  # Gmail clips messages past ~102 KB


def test_shared_papers_never_carry_another_subscribers_links(renderer: Renderer) -> None:
    # Rows of shared papers are partly cached (once_per_paper): what is personal must not be.
    from service.digest.samples import sample_digest, sample_papers

    papers = sample_papers()[:5]
    ada = sample_digest(
        papers, subscriber=1, email="ada@example.org", topics=(Topic("keyword", "graphs"),)
    )
    bob = sample_digest(
        papers, subscriber=2, email="bob@example.org", topics=(Topic("keyword", "speech"),)
    )
    for mine, theirs in ((ada, bob), (bob, ada), (ada, bob)):
        rendered = renderer.render(mine)
        for part, shown in ((rendered.html, htmllib.escape), (rendered.text, str)):
            assert mine.email in part and theirs.email not in part
            assert all(
                shown(up) in part and shown(down) in part
                for up, down in mine.links.feedback.values()
            )
            assert not any(
                shown(up) in part or shown(down) in part
                for up, down in theirs.links.feedback.values()
            )
            assert mine.links.unsubscribe in part and theirs.links.unsubscribe not in part
        topic = mine.topics[0].text
        assert rendered.html.count(f"matches &#34;{topic}&#34;") == 5


# --------------------------------------------------------------------------- hostile data

LONG_WORD = "https://example.org/" + "x" * 280  # one 300-character word: a URL, a chemical name
RTL_TITLE = "نموذج لغوي كبير للاستدلال الرياضي مع التعلم المعزز"
CJK_TITLE = "大规模语言模型的数学推理能力研究：基于强化学习的方法与实验分析"
EMOJI_TITLE = "🚀🔥 Scaling 🤖 agents 🧪🧬 to 1,000 tools 🎉👩‍🔬"
OVERRIDE_TITLE = "Open the attachment \u202egnp.exe\u202c now"


def hostile_paper(i: int) -> ScoredPaper:
    """Paper data at its worst: every field as long as it may be, scripts of every direction."""
    titles = (LONG_WORD, RTL_TITLE, CJK_TITLE, EMOJI_TITLE, OVERRIDE_TITLE)
    title = f"{titles[i % len(titles)]} {'Supercalifragilistic ' * 10}"[:300]
    return paper(
        i,
        title=title,
        authors=("Zh" + "ū" * 120, RTL_TITLE, LONG_WORD, "Ada Lovelace"),
        abstract=f"{LONG_WORD} {CJK_TITLE}. {RTL_TITLE}. {EMOJI_TITLE} reinforcement learning. "
        * 4,
        categories=("cs." + "L" * 60, "cs.AI"),
        abstract_url=f"https://arxiv.org/abs/2511.{i:05d}?" + "q" * 150,
        pdf_url=f"https://arxiv.org/pdf/2511.{i:05d}?" + "q" * 150,
        code_url=f"https://github.com/{'o' * 39}/{'r' * 100}",
        project_url=f"https://example.org/{'p' * 150}",
    )


def hostile_digest(count: int, **links: str) -> Digest:
    papers = [hostile_paper(i) for i in range(1, count + 1)]
    feedback = {
        p.paper.paper_id: (f"{BASE}/feedback/{'u' * 78}", f"{BASE}/feedback/{'d' * 78}")
        for p in papers
    }
    return Digest(
        "reader@example.org",
        FRIDAY,
        tuple(papers),
        DigestLinks(
            f"{BASE}/manage/{'m' * 51}",
            f"{BASE}/unsubscribe/{'u' * 51}",
            feedback,
            links.get("archive", f"{BASE}/archive/{'m' * 51}"),
        ),
        TOPICS,
    )


def test_the_largest_digest_is_never_clipped(renderer: Renderer) -> None:
    # Gmail clips an HTML part past ~102 KB, hiding the footer with the unsubscribe link.
    usual_digest = digest([paper(i) for i in range(1, 101)])
    usual = renderer.render(usual_digest)
    assert len(usual.html.encode("utf-8")) < 90_000
    assert usual.html.count('class="paper"') == 10
    assert usual.html.count('class="compact"') == 30
    assert re.search(
        rf'And 60 more in <a href="{BASE}/archive/tok#2025-11-21"[^>]*>your archive</a>\.',
        usual.html,
    )
    assert f"And 60 more in your archive:\n{BASE}/archive/tok" in usual.text
    # Every field as long and as many bytes as it gets: fewer rows, never a clipped footer.
    rendered = renderer.render(hostile_digest(100))
    assert len(rendered.html.encode("utf-8")) < 90_000
    full = rendered.html.count('class="paper"')
    listed = full + rendered.html.count('class="compact"')
    assert full >= 3 and listed >= 20
    assert f"And {100 - listed} more in <a" in rendered.html
    assert ">Unsubscribe</a>" in rendered.html and ">Manage preferences</a>" in rendered.html
    without_archive = renderer.render(dataclasses.replace(usual_digest, links=DigestLinks("", "")))
    assert "And 60 more, left out to keep this email short." in without_archive.html


def test_bidi_controls_are_stripped_and_titles_get_their_direction(renderer: Renderer) -> None:
    rendered = renderer.render(hostile_digest(5))
    for part in (rendered.html, rendered.text, rendered.subject, rendered.preheader):
        assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f]", part)
    assert "Open the attachment gnp.exe now" in rendered.text
    assert clean_text("a\u2067b\u2069\u200fc") == "abc"
    titles = re.findall(r"<h2 class=\"title\" dir=\"auto\"[^>]*>(.*?)</h2>", rendered.html, re.S)
    assert len(titles) == 5
    assert any(RTL_TITLE in t for t in titles)
    assert '<p class="excerpt" dir="auto"' in rendered.html


def test_paper_titles_are_headings(seven: RenderedDigest) -> None:
    assert len(re.findall(r'<h2 class="title"', seven.html)) == 7
    assert '<p class="title"' not in seven.html


def test_matched_words_are_highlighted_in_the_excerpt(renderer: Renderer) -> None:
    meaning = Reason('close in meaning to "reward hacking": “A reward model is trained first.”')
    papers = [
        paper(1),  # matches "reinforcement learning"
        ScoredPaper(paper(2).paper, 0.5, (meaning,)),
        ScoredPaper(
            paper(3).paper, 0.4, (Reason('partly matches "scaling reward models" (model)'),)
        ),
    ]
    html = renderer.render(digest(papers)).html
    excerpts = re.findall(r'<p class="excerpt"[^>]*>(.*?)</p>', html, re.S)
    marks = [re.findall(r"<mark[^>]*>(.*?)</mark>", e) for e in excerpts]
    assert marks[0] == ["Reinforcement", "learning"]
    assert marks[1] == []  # a meaning match names no words
    assert marks[2] == ["models", "model"]
    assert htmllib.unescape(re.sub(r"<[^>]+>", "", excerpts[0])).startswith(
        "Reinforcement learning from human feedback"
    )


def test_preheader_holds_whole_titles_without_a_stray_separator(renderer: Renderer) -> None:
    for count in (1, 2, 3, 7, 40):
        preheader = renderer.render(digest([paper(i) for i in range(1, count + 1)])).preheader
        assert not preheader.endswith(("·", "·…", "…")), preheader
        assert len(preheader) <= 140
        assert preheader.split(" · ")[0] == "Scaling laws for reward models, part 1"
    long = renderer.render(digest([paper(1, title="word " * 60)])).preheader
    assert long.endswith("word…") and len(long) <= 140


def test_quiet_days_say_what_is_true(renderer: Renderer) -> None:
    none = renderer.render(dataclasses.replace(digest([]), new_papers=0))
    some = renderer.render(dataclasses.replace(digest([]), new_papers=312))
    one = renderer.render(dataclasses.replace(digest([]), new_papers=1))
    assert "No new papers were announced today" in none.text
    assert none.subject == "Paperboy: No new papers were announced on Fri 21 Nov"
    assert "None of the 312 new papers today matched your topics" in some.html
    assert "The one new paper today did not match your topics" in one.text
    assert "matched" not in none.text and "announced" not in some.text


def test_view_in_browser_opens_the_archive(renderer: Renderer) -> None:
    rendered = renderer.render(hostile_digest(3, archive=f"{BASE}/archive/tok"))
    view = f"{BASE}/archive/tok#2025-11-21"  # the archive page's anchor for this digest's date
    assert re.search(rf'<a href="{view}"[^>]*>View in browser</a>', rendered.html)
    assert f"View in browser: {view}" in rendered.text
    bare = renderer.render(hostile_digest(3, archive=""))  # no archive link: no "view in browser"
    assert "View in browser" not in bare.html and "View in browser" not in bare.text


# --------------------------------------------------------------------------- message checks


def _messages(renderer: Renderer) -> dict[str, object]:
    """Every kind of message the service sends, as EmailMessage objects."""
    from service.digest.confirm_mail import ConfirmationMail
    from service.digest.message import build_message
    from service.settings import Settings
    from service.subscribers.subscriptions import OpenConfirmation
    from service.subscribers.tokens import Signer

    def digest_message(d: Digest) -> object:
        return build_message(
            renderer.render(d), to=d.email, from_addr="Paperboy <digest@example.org>",
            base_url=BASE, unsubscribe_url=d.links.unsubscribe, list_id="digest.example.org",
            date=dt.datetime(2025, 11, 21, 8, tzinfo=dt.UTC), message_key="20251121.1.1",
        )  # fmt: skip

    settings = Settings(base_url=BASE, from_address="Paperboy <digest@example.org>")
    mail = ConfirmationMail(templates_dir(), settings=settings, signer=Signer("s" * 32))
    requested = {
        "topics": [("keyword", LONG_WORD, 1.0), ("category", "cs.LG", 1.0)],
        "cadence": "weekly",
    }
    now = dt.datetime(2025, 11, 21, 8, tzinfo=dt.UTC)
    return {
        "digest": digest_message(hostile_digest(100)),
        "seven": digest_message(digest([paper(i) for i in range(1, 8)])),
        "quiet": digest_message(dataclasses.replace(digest([]), new_papers=0)),
        "confirm": mail.build(
            OpenConfirmation(1, "new@example.org", "n", False, requested), now=now
        ),
        "change": mail.build(OpenConfirmation(1, "old@example.org", "n", True, requested), now=now),
    }


def _html_part(message: object) -> str:
    return next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()  # type: ignore[attr-defined]


def test_every_message_parses_cleanly(renderer: Renderer) -> None:
    import email
    import email.policy

    import html5lib

    from service.digest.message import wire_bytes

    for name, message in _messages(renderer).items():
        raw = wire_bytes(message)  # type: ignore[arg-type]
        assert all(len(line) <= 998 for line in raw.split(b"\r\n")), name
        parsed = email.message_from_bytes(raw, policy=email.policy.strict)
        assert [p.defects for p in parsed.walk() if p.defects] == [], name
        parser = html5lib.HTMLParser(strict=False)
        parser.parse(_html_part(parsed))
        assert parser.errors == [], (name, parser.errors[:3])


def test_confirmation_has_the_digests_look(renderer: Renderer) -> None:
    html = _html_part(_messages(renderer)["confirm"])
    assert "prefers-color-scheme: dark" in html and 'name="color-scheme"' in html
    assert '<p class="brand"' in html and ">Paperboy</p>" in html
    assert "max-width:600px" in html and "overflow-wrap:anywhere" in html
    assert '<li dir="auto">' + LONG_WORD + "</li>" in html


def test_spamassassin_scores_every_message_at_most_half_a_point(renderer: Renderer) -> None:
    if shutil.which("spamassassin") is None:
        need("spamassassin", "not installed (apt-get install spamassassin)")
    from service.digest.message import wire_bytes

    for name, message in _messages(renderer).items():
        checked = subprocess.run(
            ["spamassassin", "--local", "--test-mode"],
            input=wire_bytes(message),  # type: ignore[arg-type]
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout.decode("utf-8", "replace")
        status = re.search(r"^X-Spam-Status: \w+, score=(-?[0-9.]+)(.*?)^\S", checked, re.M | re.S)
        assert status, checked[:2000]
        assert float(status.group(1)) <= 0.5, (name, " ".join(status.group(2).split()))
