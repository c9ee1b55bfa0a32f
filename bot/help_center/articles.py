"""A help-center article as one Markdown file with YAML front matter, read and written back.

    ---
    id: add-custom-token
    title: 如何添加自定义代币
    summary: 在资产页点「+」…          the short answer the chat shows
    questions: [怎么添加新的代币, …]    how users ask; searched, and the classifier learns them
    tags: [代币]
    intents: [supported_coins]         the assistant's topics the article goes deeper into
    ---
    ## 操作步骤 …                       the full article (Markdown, no HTML or links)

The same text is a file in ``data/help_center/`` (reviewed in git) and a version in the handoff
database (edited in the console): ``parse_article`` refuses a broken one with the reason, so a
bad edit never replaces the version being served.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ARTICLES_DIR = Path(__file__).resolve().parents[2] / "data" / "help_center"
ARTICLE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_ID, MAX_TITLE, MAX_SUMMARY, MAX_BODY = 64, 80, 400, 20_000
MAX_QUESTIONS, MAX_QUESTION = 40, 200
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)


class ArticleError(ValueError):
    """An article text that cannot be served; the message says why."""


@dataclass(frozen=True)
class Article:
    """An article: the chat's short answer (``summary``), the full text, how it is found."""

    article_id: str
    title: str
    summary: str
    questions: tuple[str, ...]
    tags: tuple[str, ...]
    intents: tuple[str, ...]
    body: str

    def text(self) -> str:
        """The article as its Markdown file."""
        front = {
            "id": self.article_id,
            "title": self.title,
            "summary": self.summary,
            "questions": list(self.questions),
            "tags": list(self.tags),
            "intents": list(self.intents),
        }
        dumped = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=100)
        return f"---\n{dumped}---\n{self.body.strip()}\n"


def parse_article(text: str) -> Article:
    """The article in ``text``, or ArticleError naming what is wrong."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if match is None:
        raise ArticleError("the text must start with front matter between two '---' lines")
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise ArticleError(f"the front matter is not valid YAML: {error}") from None
    if not isinstance(front, dict):
        raise ArticleError("the front matter must be a mapping (id: …, title: …)")
    unknown = sorted(
        set(map(str, front)) - {"id", "title", "summary", "questions", "tags", "intents"}
    )
    if unknown:
        raise ArticleError(f"unknown front matter fields: {', '.join(unknown)}")
    article_id = _text(front, "id", MAX_ID)
    if not ARTICLE_ID.fullmatch(article_id):
        raise ArticleError(
            "id must be lowercase letters, digits and single hyphens (add-custom-token)"
        )
    body = match.group(2).strip()
    if not body:
        raise ArticleError("the article has no body below the front matter")
    if len(body) > MAX_BODY:
        raise ArticleError(f"the body is longer than {MAX_BODY} characters")
    return Article(
        article_id=article_id,
        title=_text(front, "title", MAX_TITLE),
        summary=_text(front, "summary", MAX_SUMMARY),
        questions=_texts(front, "questions", MAX_QUESTIONS, MAX_QUESTION),
        tags=_texts(front, "tags", 10, 20),
        intents=_texts(front, "intents", 10, 64),
        body=body,
    )


def load_directory(directory: Path = ARTICLES_DIR) -> list[Article]:
    """Every article file of ``directory`` (``<id>.md``); ArticleError names the first bad one."""
    articles = []
    for path in sorted(directory.glob("*.md")):
        try:
            article = parse_article(path.read_text(encoding="utf-8"))
        except (ArticleError, UnicodeDecodeError) as error:
            raise ArticleError(f"{path.name}: {error}") from None
        if article.article_id != path.stem:
            raise ArticleError(f"{path.name}: its id is {article.article_id!r}, not {path.stem!r}")
        articles.append(article)
    return articles


def _text(front: dict[str, Any], field: str, limit: int) -> str:
    value = front.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ArticleError(f"{field} is missing or empty")
    value = " ".join(value.split())
    if len(value) > limit:
        raise ArticleError(f"{field} is longer than {limit} characters")
    return value


def _texts(front: dict[str, Any], field: str, count: int, limit: int) -> tuple[str, ...]:
    value = front.get(field) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ArticleError(f"{field} must be a list of texts")
    items = _unique(" ".join(item.split()) for item in value if item.strip())
    if len(items) > count:
        raise ArticleError(f"{field} has more than {count} entries")
    if any(len(item) > limit for item in items):
        raise ArticleError(f"an entry of {field} is longer than {limit} characters")
    return items


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
