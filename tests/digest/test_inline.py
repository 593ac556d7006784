"""The precomputed inline styles: render() must style every element exactly as premailer over the
whole document would, and template or stylesheet edits that break that must fail loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import html as lxml_html

from service.digest.inline import TemplateStyleError, inline_css, learn_styles, probe_marker
from service.digest.render import Renderer
from service.records import Digest, ScoredPaper
from service.resources import templates_dir
from tests.digest.test_render import digest, paper


def elements(document: str) -> list[tuple[object, ...]]:
    """Every node of the parsed document: tag, attributes, text and tail (whitespace collapsed,
    since the two paths lay out whitespace between elements differently)."""
    nodes: list[tuple[object, ...]] = []
    for node in lxml_html.document_fromstring(document).iter():
        text = " ".join((node.text or "").split())
        tail = " ".join((node.tail or "").split())
        tag = node.tag if isinstance(node.tag, str) else "<!-- -->"
        nodes.append((tag, dict(node.attrib), text, tail))
    return nodes


def varied_digest() -> Digest:
    """20 papers taking every branch: missing URLs, authors, summaries, feedback links."""
    papers = [paper(i) for i in range(1, 21)]
    papers[3] = paper(4, abstract_url=None, pdf_url=None, code_url=None, project_url=None)
    papers[5] = paper(6, authors=(), author_count=None, sources=(), published=None,
                      upvotes=None, stars=None)  # fmt: skip
    papers[7] = paper(8, abstract="", ai_summary=None, title="<b>markup</b> & “quotes”")
    papers[9] = ScoredPaper(paper(10).paper, 0.1, ())
    built = digest(papers)
    del built.links.feedback[12]
    return built


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(templates_dir())


@pytest.mark.parametrize("case", ["twenty papers", "quiet day"])
def test_fast_path_styles_every_element_like_premailer(renderer: Renderer, case: str) -> None:
    sample = varied_digest() if case == "twenty papers" else digest([])
    rendered, slow = renderer.render(sample), renderer.render_reference(sample)
    assert (rendered.subject, rendered.text, rendered.preheader) == (
        slow.subject,
        slow.text,
        slow.preheader,
    )
    fast, reference = elements(rendered.html), elements(slow.html)
    assert len(fast) == len(reference)
    for mine, theirs in zip(fast, reference, strict=True):
        assert mine == theirs
    styled = [attrs for _, attrs, _, _ in fast if "style" in attrs]  # type: ignore[operator]
    assert len(styled) > (150 if case == "twenty papers" else 12)


def test_leftover_style_block_keeps_media_queries(renderer: Renderer) -> None:
    css = renderer.styles.leftover_css
    assert "@media only screen and (max-width: 620px)" in css
    assert "@media (prefers-color-scheme: dark)" in css
    assert "!important" in css
    assert ".title {" not in css.split("@media")[0]  # plain rules went inline, not here


@pytest.fixture
def templates_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_styled_element_without_a_marker_fails_construction(templates_copy: Path) -> None:
    edit(
        templates_copy / "email" / "_paper.html",
        '<p class="meta"{{ inline("meta") }}>',
        '<p class="meta">',
    )
    with pytest.raises(TemplateStyleError, match=r"<p class='meta'>.*no .*marker"):
        Renderer(templates_copy)


def test_a_new_rule_for_an_unmarked_element_fails_construction(templates_copy: Path) -> None:
    with (templates_copy / "email" / "digest.css").open("a") as css:
        css.write("\n.why strong { color: #000000; }\n")
    with pytest.raises(TemplateStyleError, match="<strong>"):
        Renderer(templates_copy)


def test_one_key_in_two_contexts_fails_construction(templates_copy: Path) -> None:
    edit(
        templates_copy / "email" / "_footer.html",
        '{{ inline("footer-link") }}>Unsubscribe',
        '{{ inline("link") }}>Unsubscribe',
    )
    with pytest.raises(TemplateStyleError, match="'link' needs different styles"):
        Renderer(templates_copy)


def test_a_marker_no_specimen_reaches_fails_construction(templates_copy: Path) -> None:
    edit(
        templates_copy / "email" / "_paper.html",
        "{% if row.excerpt %}",
        "{% if row.excerpt == 'never' %}",
    )
    with pytest.raises(TemplateStyleError, match=r"never rendered.*excerpt"):
        Renderer(templates_copy)


def test_learn_styles_reads_added_attributes_and_leftovers() -> None:
    probe = (
        "<html><head><style>td { background-color: #ffffff } p { margin: 0 }"
        " @media (prefers-color-scheme: dark) { p { color: #ffffff } }</style></head>"
        f"<body><table><tr><td{probe_marker('cell')}><p{probe_marker('para')}>x</p></td></tr>"
        "</table></body></html>"
    )
    learned = learn_styles([probe], {"cell", "para"})
    assert learned.attributes == {
        "cell": ' style="background-color:#fff" bgcolor="#ffffff"',
        "para": ' style="margin:0"',
    }
    assert "prefers-color-scheme: dark" in learned.leftover_css
    assert "!important" in learned.leftover_css
    assert 'style="margin:0"' in inline_css(probe)
