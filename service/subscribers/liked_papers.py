"""Papers a reader likes, as they hand them over: arXiv ids or URLs, a BibTeX file, a Zotero export.

Pure: text or bytes in, a `LikedImport` out (no I/O). Every spelling of an arXiv id that
`sources.arxiv_ids` knows is accepted (``2401.00001``, ``arXiv:2401.00001v2``,
``https://arxiv.org/pdf/2401.00001``, ``hep-th/9901001``). In a BibTeX entry (bibtexparser, which
keeps going past a broken entry) or a CSL JSON item (Zotero's "CSL JSON" export) the id is taken
from the first field that names one: ``eprint`` (with ``archivePrefix``/``eprinttype`` arXiv or
none), ``arxiv``/``arxivid``, ``url``, ``doi`` (``10.48550/arXiv.ID``), ``number``, ``journal``,
``note``. A broken entry, an entry with no arXiv id and a word that is not an id are each listed
in ``rejected`` with where they are (the line of a BibTeX entry, the item number in JSON); the
good ones are imported all the same. More than `MAX_LIKED` papers is refused as a whole.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.errors import InputError
from service.sources.arxiv_ids import parse_arxiv_id

MAX_LIKED = 500  # liked papers per interest
MAX_FILE_BYTES = 2 * 1024 * 1024  # an uploaded .bib/.json

# An id inside free text: "arXiv:2401.00001 [cs]", "arXiv preprint arXiv:2401.00001",
# "10.48550/arXiv.2401.00001", "https://arxiv.org/abs/2401.00001v2".
_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|arxiv[:.]\s*)"
    r"(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s,;]+")
_BIBTEX_FIELDS = ("eprint", "arxiv", "arxivid", "url", "doi", "number", "journal", "note")
_CSL_FIELDS = ("URL", "DOI", "number", "arxiv", "container-title", "note", "id")


@dataclass(frozen=True, slots=True)
class LikedRef:
    """One liked paper: its arXiv id (no version) and the title the file gave it ("" if none)."""

    arxiv_id: str
    title: str = ""


@dataclass(slots=True)
class LikedImport:
    """The liked papers found (each id once, in order) and what was rejected, with where."""

    papers: list[LikedRef] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def add(self, ref: LikedRef) -> None:
        if all(p.arxiv_id != ref.arxiv_id for p in self.papers):
            self.papers.append(ref)

    @property
    def ids(self) -> list[str]:
        return [p.arxiv_id for p in self.papers]


def find_arxiv_id(text: object) -> str | None:
    """The arXiv id (no version) that ``text`` is, or that it names ("arXiv:ID", a DOI, a URL)."""
    if not isinstance(text, str | int | float) or isinstance(text, bool):
        return None
    text = str(text).strip()
    parsed = parse_arxiv_id(text)
    if parsed is None:
        for found in _IN_TEXT.finditer(text):
            parsed = parse_arxiv_id(found["id"])
            if parsed is not None:
                break
    return parsed[0] if parsed is not None else None


def parse_ids(texts: Iterable[str]) -> LikedImport:
    """arXiv ids or URLs, one or many per text (split on spaces, commas, semicolons, lines)."""
    result = LikedImport()
    for text in texts:
        for word in _SEPARATORS.split(text or ""):
            if not word:
                continue
            arxiv_id = find_arxiv_id(word)
            if arxiv_id is None:
                result.rejected.append(f"{word[:80]!r} is not an arXiv id or URL")
            else:
                result.add(LikedRef(arxiv_id))
    return check_limit(result)


def parse_bibtex(text: str) -> LikedImport:
    """The arXiv papers of a BibTeX file; broken entries and entries without an id are listed."""
    import bibtexparser  # the parser loads only when a file is imported

    logging.getLogger("bibtexparser").setLevel(logging.ERROR)  # it warns per broken block
    library = bibtexparser.parse_string(text)
    result = LikedImport()
    blocks = sorted(
        [(entry.start_line, entry) for entry in library.entries]
        + [(block.start_line, block) for block in library.failed_blocks],
        key=lambda pair: pair[0],
    )
    for start, block in blocks:
        line = start + 1  # bibtexparser counts lines from 0
        if block in library.failed_blocks:
            first = block.raw.strip().splitlines()[0][:60] if block.raw.strip() else ""
            result.rejected.append(f"line {line}: broken entry {first!r}: {_bib_error(block)}")
            continue
        fields = {f.key.casefold(): f.value for f in block.fields}
        arxiv_id = _bibtex_id(fields)
        if arxiv_id is None:
            result.rejected.append(f"line {line}: entry {block.key!r} has no arXiv id")
            continue
        result.add(LikedRef(arxiv_id, _clean_title(fields.get("title", ""))))
    return check_limit(result)


def parse_csl_json(text: str) -> LikedImport:
    """The arXiv papers of a CSL JSON export (Zotero: "Export Library…" → CSL JSON)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not a CSL JSON file: line {exc.lineno}: {exc.msg}") from None
    items = data.get("items") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise InputError("not a CSL JSON file: expected a list of items")
    result = LikedImport()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            result.rejected.append(f"item {number}: not an object")
            continue
        arxiv_id = next(
            (found for key in _CSL_FIELDS if (found := find_arxiv_id(item.get(key))) is not None),
            None,
        )
        title = _clean_title(item.get("title") if isinstance(item.get("title"), str) else "")
        if arxiv_id is None:
            result.rejected.append(f"item {number} {title[:60]!r}: no arXiv id")
            continue
        result.add(LikedRef(arxiv_id, title))
    return check_limit(result)


def parse_file(name: str, data: bytes) -> LikedImport:
    """A .bib or .json file by its content (a JSON export starts with ``[`` or ``{``)."""
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{name}: the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # old BibTeX files are often Latin-1
    stripped = text.lstrip()
    if not stripped:
        raise InputError(f"{name}: the file is empty")
    try:
        if stripped[0] in "[{":
            return parse_csl_json(text)
        if "@" not in text:
            raise InputError("neither BibTeX (no @entry) nor CSL JSON")
        return parse_bibtex(text)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None


def check_limit(result: LikedImport, *, already: int = 0) -> LikedImport:
    """``result`` unchanged, or InputError when it (plus ``already`` liked) is over MAX_LIKED."""
    total = already + len(result.papers)
    if total > MAX_LIKED:
        have = f" (the interest already has {already})" if already else ""
        raise InputError(
            f"too many liked papers: {len(result.papers)}{have}; an interest holds at most "
            f"{MAX_LIKED}. Keep the ones closest to the interest."
        )
    return result


def _bibtex_id(fields: Mapping[str, Any]) -> str | None:
    prefix = str(fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").casefold()
    for key in _BIBTEX_FIELDS:
        value = fields.get(key)
        if value is None or (key == "eprint" and prefix != "arxiv"):
            continue
        found = find_arxiv_id(str(value).strip("{} "))
        if found is not None:
            return found
    return None


def _bib_error(block: Any) -> str:
    error = getattr(block, "error", None)
    text = str(error) if error is not None else "cannot be read"
    return " ".join(text.split())[:160]


def _clean_title(title: str) -> str:
    """A title without BibTeX's case-protecting braces and with its spaces collapsed."""
    return " ".join(title.replace("{", "").replace("}", "").split())
