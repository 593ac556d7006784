"""TeX in source text becomes Unicode; plain text, and text pylatexenc cannot read, stays as is."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from service.sources import tex
from service.sources.arxiv_feed import parse_arxiv_feed
from service.sources.tex import tex_clean, tex_to_text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ('Schr\\"odinger equation', "Schrödinger equation"),
        ("Kad{\\i}o\\u{g}lu", "Kadıoğlu"),
        ("Paul Erd\\H{o}s and Mat\\'ern", "Paul Erdős and Matérn"),
        ("$\\alpha$-stable laws", "α-stable laws"),
        ("85.1\\% faster", "85.1% faster"),
        ("in $\\mathcal{O}(n \\log n)$ time", "in 𝒪(n log n) time"),
        ("$\\ell_1$ and $\\mathbb{R}^n$ and $x \\to y$", "ℓ_1 and ℝ^n and x → y"),
        ('{\\em stress} and \\textbf{bold} and \\emph{Gr\\"obner}', "stress and bold and Gröbner"),
        ("code at \\href{https://x.org/a}{our repo}.", "code at our repo <https://x.org/a>."),
    ],
)
def test_accents_and_simple_math_become_unicode(raw: str, text: str) -> None:
    assert tex_clean(raw) == text


@pytest.mark.parametrize(
    "plain",
    [
        "Plain text, with -- dashes, ~tildes~ and {braces}, stays exactly as it is.",
        "We gain 3% over the baseline & 5% over #2 on 50% of the tasks.",  # % is not a comment
        "It costs $5 per run.",  # a lone dollar is money, not math
        "",
    ],
)
def test_plain_text_is_untouched(plain: str) -> None:
    assert tex_to_text(plain) == plain


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # An author's own macro is unknown: kept as written, never dropped with its word.
        ("Llama 3.1 70B with \\method even achieves", "Llama 3.1 70B with \\method even achieves"),
        ("the \\ours{} model", "the \\ours model"),
        ("85.1\\% here and 3% there", "85.1% here and 3% there"),
        ("a path C:\\Users\\me stays", "a path C:\\Users\\me stays"),
        ("unbalanced { \\alpha", "unbalanced { α"),
        ("half $ math \\beta", "half $ math β"),
        ("a line\\\\break", "a line break"),
        ("\\", "\\"),
    ],
)
def test_odd_input_keeps_its_words(raw: str, text: str) -> None:
    assert tex_clean(raw) == text


def test_a_span_pylatexenc_fails_on_stays_raw_and_the_rest_converts(monkeypatch, caplog) -> None:
    real = tex._contexts

    def breaking():
        parsing, converter = real()

        class Broken:
            def latex_to_text(self, source, **flags):
                if "\\bad" in source:
                    raise IndexError("list index out of range")
                return converter.latex_to_text(source, **flags)

        return parsing, Broken()

    tex._convert.cache_clear()
    monkeypatch.setattr(tex, "_contexts", breaking)
    with caplog.at_level(logging.WARNING, logger="service.sources.tex"):
        assert tex_clean('Schr\\"odinger meets \\bad{x} here') == "Schrödinger meets \\bad{x} here"
    tex._convert.cache_clear()
    assert "tex_conversion_failed" in caplog.text


def test_huge_text_is_left_alone() -> None:
    huge = "\\alpha " * 20_000
    assert tex_to_text(huge) == huge


def test_recorded_arxiv_feed_is_stored_in_unicode(recorded_dir: Path) -> None:
    parsed = parse_arxiv_feed((recorded_dir / "arxiv_rss_stat_2024-03-26.xml").read_bytes())
    text = " ".join(f"{x.title} {x.abstract}" for x in parsed.listings)
    assert "GP with Matérn correlation function" in text
    assert "46.62% responses are censored" in text
    assert "complexity of 𝒪(n^3)" in text
    assert "Hotelling's T^2 test" in text
    assert "\\%" not in text and "\\'" not in text and "$\\alpha" not in text
