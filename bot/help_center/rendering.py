"""An article's Markdown body as HTML that is safe to put in a page: no HTML, links or images.

Articles are written by leads in the console, but a lead's session can be stolen and a pasted
text can carry anything, so the body is rendered with Python-Markdown (``Markdown==3.10.3``)
without the parts that let text become markup: raw HTML blocks and inline tags, links, images,
autolinks and reference definitions. What they would have matched stays in the page as text,
escaped by Markdown's serializer (``<script>`` shows as ``<script>``). The title and summary are
plain text everywhere: pages set them with ``textContent`` or a template's autoescape.
"""

from __future__ import annotations

from dataclasses import dataclass

import markdown

from bot.help_center.articles import Article

# Python-Markdown's names of what turns text into markup of the writer's choosing.
_PREPROCESSORS = ("html_block",)
_BLOCK_PROCESSORS = ("reference",)
_INLINE_PATTERNS = (
    "html",
    "reference",
    "link",
    "image_link",
    "image_reference",
    "short_reference",
    "short_image_ref",
    "autolink",
    "automail",
)


@dataclass(frozen=True)
class RenderedArticle:
    """An article as a page shows it: plain title and summary, the body as safe HTML."""

    article_id: str
    title: str
    summary: str
    body_html: str


def render_markdown(text: str) -> str:
    """``text`` (Markdown) as HTML in which every tag comes from Markdown's own syntax."""
    # A new converter each time: Markdown instances keep state between calls and are not
    # meant to be shared between threads (handlers render off the event loop).
    converter = markdown.Markdown(extensions=["sane_lists"], output_format="html")
    for name in _PREPROCESSORS:
        converter.preprocessors.deregister(name)
    for name in _BLOCK_PROCESSORS:
        converter.parser.blockprocessors.deregister(name)
    for name in _INLINE_PATTERNS:
        converter.inlinePatterns.deregister(name)
    return converter.convert(text)


def render_article(article: Article) -> RenderedArticle:
    return RenderedArticle(
        article_id=article.article_id,
        title=article.title,
        summary=article.summary,
        body_html=render_markdown(article.body),
    )
