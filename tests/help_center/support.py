"""Articles and stores for the help-center tests."""

from __future__ import annotations

from pathlib import Path

from bot.help_center.articles import Article, parse_article
from bot.help_center.store import ArticleStore


def article_text(
    article_id: str = "revoke-approval",
    title: str = "如何取消授权",
    summary: str = "在设置 → 授权管理里找到对应授权，点取消授权，需要支付一笔矿工费。",
    questions: tuple[str, ...] = ("怎么取消合约授权", "授权怎么撤销"),
    intents: tuple[str, ...] = (),
    body: str = "## 步骤\n\n1. 打开设置 → 授权管理。\n2. 点取消授权。",
) -> str:
    return Article(article_id, title, summary, questions, ("授权",), intents, body).text()


def article(**fields: str | tuple[str, ...]) -> Article:
    return parse_article(article_text(**fields))  # type: ignore[arg-type]


def store_at(tmp_path: Path) -> ArticleStore:
    return ArticleStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")
