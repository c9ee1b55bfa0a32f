"""An article body renders as the Markdown a lead wrote (headings, lists, emphasis, code), and
nothing in it becomes markup of the writer's choosing: HTML, scripts, links and images show as
the text that was typed."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bot.help_center.articles import load_directory, parse_article
from bot.help_center.rendering import render_article, render_markdown

# The tags Markdown's own syntax makes; anything else in the output came from the text.
MARKDOWN_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "ul", "li", "strong", "em", "code", "pre",
    "blockquote", "hr", "br",
}  # fmt: skip


class Tags(HTMLParser):
    """The tags, attributes and shown text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.shown: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.shown.append(data)


def tags_of(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser


def visible_text(html: str) -> str:
    """The text a browser shows for ``html``."""
    return "".join(tags_of(html).shown)


def test_markdown_becomes_headings_lists_and_emphasis() -> None:
    html = render_markdown(
        "## 操作步骤\n\n1. 打开「我的」\n2. 点 **安全中心**\n\n- 备注 `0x12ab`\n\n> 注意安全"
    )
    assert "<h2>操作步骤</h2>" in html
    assert re.search(r"<ol>\s*<li>打开「我的」</li>\s*<li>点 <strong>安全中心</strong></li>", html)
    assert "<ul>" in html and "<code>0x12ab</code>" in html
    assert "<blockquote>" in html


@pytest.mark.parametrize(
    "typed",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<div onclick="steal()">点我</div>',
        "<iframe src=https://evil.example></iframe>",
        "[官方客服](javascript:alert(1))",
        "[官方客服](https://evil.example/login)",
        "![二维码](https://evil.example/qr.png)",
        "<https://evil.example>",
        "<support@evil.example>",
        "[客服][1]\n\n[1]: javascript:alert(1)",
        "<!-- hidden --><style>body{display:none}</style>",
    ],
)
def test_html_links_and_images_show_as_the_typed_text(typed: str) -> None:
    html = render_markdown(f"开头\n\n{typed}\n\n结尾")
    parsed = tags_of(html)
    assert set(parsed.tags) <= MARKDOWN_TAGS, html
    assert parsed.attributes == [], html
    # What was typed is still there for the reader, as text.
    shown = visible_text(html)
    for word in re.findall(r"[a-z]{4,}|[\u4e00-\u9fff]+", typed):
        assert word in shown, (word, html)


def test_a_code_block_keeps_markup_as_text() -> None:
    html = render_markdown("    <script>alert(1)</script>")
    assert "<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_title_and_summary_stay_plain_text_and_the_body_is_escaped() -> None:
    article = parse_article(
        "---\n"
        "id: hostile\n"
        "title: <script>alert('t')</script>标题\n"
        "summary: <b onmouseover=alert(1)>摘要</b>\n"
        "---\n"
        "<script>alert('body')</script>\n"
    )
    rendered = render_article(article)
    # Plain text: the page escapes them (template or textContent) where it shows them.
    assert rendered.title == "<script>alert('t')</script>标题"
    assert rendered.summary == "<b onmouseover=alert(1)>摘要</b>"
    assert "<script" not in rendered.body_html
    assert visible_text(rendered.body_html) == "<script>alert('body')</script>"


def test_every_shipped_article_renders_with_markdown_tags_only() -> None:
    for article in load_directory():
        html = render_article(article).body_html
        assert set(tags_of(html).tags) <= MARKDOWN_TAGS, article.article_id
        assert "<h2>" in html or "<p>" in html, article.article_id
