"""Inline the email stylesheet into the templates once, so rendering a digest never runs premailer.

The stylesheet is the same for every subscriber, and which rules reach an element depends only
on the element's place in the template, not on the paper it shows. So each styled element in a
template carries a marker, `{{ inline("key") }}`, right after its other attributes, and the
styles are learned once:

1. The templates are rendered with each marker turned into `data-inline="key"` (the *probe*),
   for a few specimen digests that between them take every branch of the templates.
2. premailer runs over each whole probe document: the reference result (`inline_css`).
3. Comparing every element before and after gives the attributes premailer added to it
   (`style`, and `bgcolor` where a background colour allows it); the <style> block premailer
   leaves behind holds the rules it cannot inline (the @media queries, marked !important).

`learn_styles` raises TemplateStyleError when an element gains styles without a marker, when one
key would need different styles in different places, or when a marker was never exercised, so a
template or stylesheet change cannot silently drop styling. `MarkerLoader` then substitutes each
marker with its learned attributes in the template source, so the compiled template emits them
as plain text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jinja2 import BaseLoader, Environment
from lxml import html as lxml_html
from markupsafe import escape
from premailer import Premailer

MARKER = re.compile(r"""\{\{\s*inline\(\s*["']([A-Za-z0-9_-]+)["']\s*\)\s*\}\}""")
PROBE_ATTRIBUTE = "data-inline"


class TemplateStyleError(ValueError):
    """The templates and the stylesheet disagree in a way the precomputed styles cannot honour."""


@dataclass(frozen=True, slots=True)
class LearnedStyles:
    """What premailer does to the templates: attribute text per marker key, and leftover CSS."""

    attributes: dict[str, str]  # key -> ' style="…" bgcolor="…"' ("" when nothing applies)
    leftover_css: str  # the rules premailer keeps in a <style> block (@media, !important)


def inline_css(document: str) -> str:
    """premailer over a whole HTML document: the reference every fast path must match."""
    # Leftover rules (the @media blocks) stay in a <style> tag and are marked !important by
    # premailer so they can beat the inline styles; strip_important=False keeps that.
    # No network and no files: the template carries its own CSS.
    return Premailer(
        document,
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=False,
        strip_important=False,
        remove_classes=False,
        allow_network=False,
        allow_loading_external_files=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()


def probe_marker(key: str) -> str:
    """What a marker becomes in the probe render."""
    return f' {PROBE_ATTRIBUTE}="{key}"'


def no_marker(key: str) -> str:
    """What a marker becomes in the reference render (premailer does the styling there)."""
    return ""


def marker_keys(source: str) -> set[str]:
    """Every marker key used in a template source."""
    return set(MARKER.findall(source))


def _describe(element: lxml_html.HtmlElement) -> str:
    classes = element.get("class")
    return f"<{element.tag}{f' class={classes!r}' if classes else ''}>"


def _added_attributes(
    before: lxml_html.HtmlElement, after: lxml_html.HtmlElement
) -> dict[str, str]:
    added: dict[str, str] = {}
    for name, value in after.attrib.items():
        if before.get(name) == value:
            continue
        if name in before.attrib:
            # A marker can only add attributes; a changed one would come out twice.
            raise TemplateStyleError(
                f"premailer changes the {name!r} attribute of {_describe(before)}; "
                "move that attribute into the stylesheet"
            )
        added[name] = value
    missing = set(before.attrib) - set(after.attrib)
    if missing:
        raise TemplateStyleError(f"premailer removes {sorted(missing)} from {_describe(before)}")
    return added


def _attribute_text(added: dict[str, str]) -> str:
    return "".join(f' {name}="{escape(value)}"' for name, value in added.items())


def _leftover_css(document: lxml_html.HtmlElement) -> str:
    return "\n".join(style.text or "" for style in document.iter("style"))


def learn_styles(probes: Iterable[str], keys: Iterable[str]) -> LearnedStyles:
    """Learn each marker's attributes from probe documents (markers as data-inline attributes).

    `keys` are the markers the templates use; each must occur in some probe. Raises
    TemplateStyleError on an unmarked styled element, a key styled two ways, or an unused key.
    """
    learned: dict[str, dict[str, str]] = {}
    leftovers: set[str] = set()
    for probe in probes:
        before = lxml_html.document_fromstring(probe)
        after = lxml_html.document_fromstring(inline_css(probe))
        leftovers.add(_leftover_css(after))
        if _added_attributes(before, after):
            raise TemplateStyleError("premailer styles the <html> element; no marker can follow")
        pairs = zip(before.body.iter(), after.body.iter(), strict=True)
        for old, new in pairs:
            if old.tag != new.tag:
                raise TemplateStyleError(f"premailer restructured the body at {_describe(old)}")
            if not isinstance(old.tag, str):  # comments and processing instructions
                continue
            added = _added_attributes(old, new)
            key = old.get(PROBE_ATTRIBUTE)
            if key is None:
                if added:
                    raise TemplateStyleError(
                        f"{_describe(old)} gets {sorted(added)} from the stylesheet but has "
                        'no {{ inline("…") }} marker in its template'
                    )
                continue
            if learned.setdefault(key, added) != added:
                raise TemplateStyleError(
                    f"marker {key!r} needs different styles in different places: "
                    f"{learned[key]} and {added}; give the places their own keys"
                )
    unused = set(keys) - set(learned)
    if unused:
        raise TemplateStyleError(
            f"markers never rendered by the specimen digests: {sorted(unused)}"
        )
    if len(leftovers) != 1:
        raise TemplateStyleError("premailer left different <style> blocks for different digests")
    return LearnedStyles(
        attributes={key: _attribute_text(added) for key, added in learned.items()},
        leftover_css=leftovers.pop(),
    )


class MarkerLoader(BaseLoader):
    """Wraps a loader and rewrites every `{{ inline("key") }}` marker with `replace(key)`.

    The replacement is literal template text, so it must not contain Jinja syntax.
    """

    def __init__(self, inner: BaseLoader, replace: Callable[[str], str]) -> None:
        self.inner = inner
        self.replace = replace

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        return MARKER.sub(self._substitute, source), filename, uptodate

    def _substitute(self, match: re.Match[str]) -> str:
        text = self.replace(match.group(1))
        if "{" in text or "}" in text:
            raise TemplateStyleError(
                f"styles for marker {match.group(1)!r} contain a brace: {text}"
            )
        return text
