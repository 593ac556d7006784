"""TeX in source text → Unicode: `Schr\\"odinger` → Schrödinger, `$\\alpha$` → α, `85.1\\%` → 85.1%.

Pure and total: `tex_to_text` never raises; on input pylatexenc cannot read it returns the text
as it came. arXiv titles, abstracts and author names are TeX source, and Hugging Face copies
them (`\\method`, `85.1\\%`); converting them once here means the ledger stores, ranks and mails
the text a reader would see on the abstract page.

pylatexenc's `LatexNodes2Text` does the work, with three guards so that plain text survives:

- text without a backslash or a dollar sign is returned unchanged (most of a feed, and fast);
- `%`, `&` and `#` are taken literally (in an abstract `85%` is a percentage, not a comment
  that would swallow the rest of the line), and an odd number of unescaped `$` means they are
  dollars, not math delimiters;
- a macro pylatexenc does not know (an author's `\\method`, `\\RR`) is kept as written rather
  than dropped, so no word of the text silently disappears.

Math keeps its content in text form: `$O(n^2)$` → O(n^2), `$\\mathcal{O}$` → 𝒪.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from pylatexenc import latexwalker, macrospec
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from service import logs

log = logs.get_logger(__name__)

_LITERAL = re.compile(r"(?<!\\)([%&#])")  # unescaped: take literally
_DOLLAR = re.compile(r"(?<!\\)\$")
_OPEN = re.compile(r"(?<!\\)\{")
_CLOSE = re.compile(r"(?<!\\)\}")
_WORDS = re.compile(r"(\s+)")
_MACRO = re.compile(r"\\(?:[A-Za-z]|\\)")
_MAX_CHARS = 50_000  # beyond any real abstract; larger input is left as it is
# Old-style font switches (`{\\em word}`) that pylatexenc does not list: they print nothing.
_SWITCHES = ("em", "bf", "it", "rm", "sf", "tt", "sc", "sl", "bfseries", "itshape", "mdseries",
             "normalfont", "scshape", "sffamily", "ttfamily", "upshape", "rmfamily")  # fmt: skip


def _verbatim(node: object) -> str:
    return node.latex_verbatim()  # type: ignore[attr-defined]


@cache
def _contexts() -> tuple[macrospec.LatexContextDb, LatexNodes2Text]:
    """The parser's macro table (with `\\href`'s two arguments) and the converter."""
    parsing = (
        latexwalker.get_default_latex_context_db().filter_context()
    )  # copies: defaults are shared
    parsing.add_context_category("paperboy", macros=[macrospec.std_macro("href", False, 2)])
    text = get_default_latex_context_db().filter_context()
    text.add_context_category(
        "paperboy", macros=[MacroTextSpec(m, discard=True) for m in _SWITCHES]
    )
    text.set_unknown_macro_spec(MacroTextSpec("", simplify_repl=_verbatim))
    return parsing, LatexNodes2Text(latex_context=text, math_mode="text", strict_latex_spaces=False)


def has_tex(text: str) -> bool:
    return "\\" in text or "$" in text


def tex_to_text(text: str) -> str:
    """The Unicode reading of TeX-bearing text; plain or unreadable text comes back unchanged.

    Only the TeX spans are parsed: a run of words from one that holds a backslash or a dollar
    to where its braces and math close. The plain words between them are copied as they are
    (pylatexenc reads a character at a time, so parsing whole abstracts would cost seconds per
    feed), and a span pylatexenc cannot read stays as written without spoiling the rest.
    Whitespace is not normalised here; `tex_clean` does that.
    """
    if not text or not has_tex(text) or len(text) > _MAX_CHARS:
        return text
    if len(_DOLLAR.findall(text)) % 2:
        text = _DOLLAR.sub(r"\\$", text)  # an odd count: dollars, not math
    out: list[str] = []
    span: list[str] = []
    depth = dollars = 0
    for token in _WORDS.split(text):
        if not span and (token.isspace() or not has_tex(token)):
            out.append(token)
            continue
        span.append(token)
        depth += len(_OPEN.findall(token)) - len(_CLOSE.findall(token))
        dollars += len(_DOLLAR.findall(token))
        if depth <= 0 and dollars % 2 == 0:
            out.append(_convert("".join(span)))
            span, depth, dollars = [], 0, 0
    if span:
        out.append(_convert("".join(span)))
    return "".join(out)


@lru_cache(maxsize=4096)  # `$\\alpha$`, `\\%` and the like recur across a feed
def _convert(span: str) -> str:
    source = _LITERAL.sub(r"\\\1", span)
    try:
        parsing, converter = _contexts()
        converted = converter.latex_to_text(source, latex_context=parsing, tolerant_parsing=True)
    except Exception as exc:  # noqa: BLE001 - odd input must never lose a listing
        log.warning("tex_conversion_failed", error=str(exc), span=span[:80])
        return span
    if not converted.strip() and not _MACRO.search(span):
        return span  # a stray backslash or brace printed nothing: keep it
    return converted


def tex_clean(text: str) -> str:
    """`tex_to_text`, then every run of whitespace made one space: how sources store text."""
    return " ".join(tex_to_text(text).split())
