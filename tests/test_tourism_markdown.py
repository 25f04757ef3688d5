"""Site descriptions: Markdown rendered and sanitised (tourism.markdown)."""
from __future__ import annotations

import re

import pytest

from date_community.tourism import markdown


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",                               # raw script block
    "Hello <script>alert(1)</script> world",                   # inline script
    "<img src=x onerror=alert(1)>",                            # event handler on raw HTML
    '<a href="javascript:alert(1)" onclick="x()">a</a>',       # raw link with handler
    "[click](javascript:alert(1))",                            # Markdown link to javascript:
    "[click](JaVaScRiPt:alert(1))",                            # mixed-case scheme
    "[click](java&#x09;script:alert(1))",                      # entity-encoded tab inside the scheme
    "[click](data:text/html;base64,PHNjcmlwdD4=)",             # data: URL
    "[click](vbscript:msgbox(1))",                             # vbscript: URL
    "<svg onload=alert(1)></svg>",                             # svg with handler
    "![x](javascript:alert(1))",                               # image with javascript: source
    '<iframe src="https://evil.example"></iframe>',            # iframe
    "[a](<javascript:alert(1)>)",                              # angle-bracket link destination
])
def test_xss_payloads_are_neutralised(source):
    html = markdown.render(source)
    assert "<script" not in html.lower()
    assert "<iframe" not in html.lower() and "<svg" not in html.lower() and "<img" not in html.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", html, re.IGNORECASE)  # no on* attribute on any tag
    for href in re.findall(r'<a\s[^>]*href="([^"]*)"', html):
        assert href.startswith(("http://", "https://", "mailto:", "/")), href


@pytest.mark.parametrize("source, expected", [
    ("[museum](https://www.city.date.fukushima.jp/)",                                   # https link kept
     '<a href="https://www.city.date.fukushima.jp/" rel="noopener">museum</a>'),
    ("[mail](mailto:kanko@example.jp)",                                                 # mailto kept
     '<a href="mailto:kanko@example.jp" rel="noopener">mail</a>'),
    ("[next](/sites/ryozen)",                                                           # relative kept
     '<a href="/sites/ryozen" rel="noopener">next</a>'),
])
def test_allowed_links_survive_with_rel(source, expected):
    assert markdown.render(source) == f"<p>{expected}</p>"


def test_structure_tags_are_kept():
    html = markdown.render("## 見どころ\n\n- **土蔵**\n- *庭園*\n\n> 引用\n\n### 小見出し\n\n1. 一\n2. 二")
    for tag in ("<h2>見どころ</h2>", "<ul>", "<li><strong>土蔵</strong></li>", "<li><em>庭園</em></li>",
                "<blockquote>", "<h3>小見出し</h3>", "<ol>"):
        assert tag in html


@pytest.mark.parametrize("source, expected", [
    ("# Top", "<h2>Top</h2>"),        # h1 in a body would be a second h1 on the page: demoted
    ("##### Deep", "<h4>Deep</h4>"),  # deeper than the allow-list: flattened to h4
])
def test_heading_levels_are_kept_in_range(source, expected):
    assert markdown.render(source) == expected


def test_other_relative_links_lose_their_href():
    assert markdown.render("[x](java%09script:alert(1))") == '<p><a rel="noopener">x</a></p>'


def test_raw_html_is_shown_as_text_not_markup():
    assert markdown.render("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>"


@pytest.mark.parametrize("source", ["", "   \n  "])  # empty and blank bodies
def test_empty_body_renders_nothing(source):
    assert markdown.render(source) == ""
