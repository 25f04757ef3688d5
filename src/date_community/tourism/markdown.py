"""Site descriptions: Markdown written by city staff → safe HTML.

Two layers, because either alone is not enough: markdown-it runs with raw
HTML switched off (so ``<script>`` typed in a file comes out as text), and nh3
then keeps only an allow-list of tags, attributes and link schemes, so even a
bug in the Markdown renderer cannot put script or event handlers on a page.
"""
from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {"p", "h2", "h3", "h4", "ul", "ol", "li", "a", "strong", "em", "blockquote", "br"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Relative links are allowed only as site paths ("/sites/…") or fragments: a
# bare "java%09script:…" is technically relative and harmless in browsers
# today, but nothing written by staff needs it, so it is dropped too.
_HREF_PREFIXES = ("http://", "https://", "mailto:", "/", "#")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href" and not value.lower().startswith(_HREF_PREFIXES):
        return None
    return value

# The page around the body already has its <h1> and the site's own <h2>
# sections; a "# heading" in a file becomes <h2> so headings stay in order,
# and anything deeper than h4 is flattened to h4 (the allow-list stops there).
_HEADING_MAP = {"h1": "h2", "h5": "h4", "h6": "h4"}


@functools.lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render(md: str) -> str:
    """Markdown → sanitised HTML (an empty string for empty input)."""
    if not md or not md.strip():
        return ""
    parser = _parser()
    tokens = parser.parse(md)
    for token in tokens:
        if token.type in ("heading_open", "heading_close") and token.tag in _HEADING_MAP:
            token.tag = _HEADING_MAP[token.tag]
    html = parser.renderer.render(tokens, parser.options, {})
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=URL_SCHEMES,
        link_rel="noopener",
        strip_comments=True,
    ).strip()
