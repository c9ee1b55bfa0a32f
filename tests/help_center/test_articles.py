"""Article files: what a lead or a reviewer in git can get wrong is refused with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.help_center.articles import ArticleError, load_directory, parse_article
from bot.help_center.training import help_center_examples
from tests.help_center.support import article, article_text


def test_an_article_reads_back_as_it_was_written() -> None:
    text = article_text()
    parsed = parse_article(text)
    assert parsed.article_id == "revoke-approval"
    assert parsed.questions == ("怎么取消合约授权", "授权怎么撤销")
    assert parsed.body.startswith("## 步骤")
    assert parse_article(parsed.text()) == parsed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no front matter at all", "front matter"),
        ("---\nid: [unclosed\n---\nbody", "not valid YAML"),
        ("---\n- a list\n---\nbody", "mapping"),
        (article_text().replace("title: 如何取消授权", "title: ''"), "title is missing"),
        (article_text(article_id="Bad ID!"), "id must be"),
        (article_text(body=" "), "no body"),
        (article_text().replace("tags:", "colour: red\ntags:"), "unknown front matter"),
        (article_text(summary="长" * 401), "summary is longer"),
    ],
)
def test_a_broken_article_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ArticleError, match=reason):
        parse_article(text)


def test_a_file_named_after_another_id_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other-name.md").write_text(article_text(), encoding="utf-8")
    with pytest.raises(ArticleError, match=r"other-name\.md"):
        load_directory(tmp_path)


def test_the_shipped_articles_are_many_distinct_and_valid() -> None:
    articles = load_directory()
    assert len(articles) >= 80
    assert len({a.title for a in articles}) == len(articles)
    for item in articles:
        assert 20 <= len(item.summary) <= 200, item.article_id
        assert len(item.questions) >= 5, item.article_id
        assert "<" not in item.body and "](" not in item.body, item.article_id


def test_the_articles_never_ask_for_a_secret_or_promise_a_phone_line() -> None:
    for item in load_directory():
        text = item.summary + item.body
        assert "客服电话" not in text and "热线" not in text, item.article_id
        for secret in ("助记词", "私钥", "验证码", "密码"):
            for asking in (f"发送{secret}", f"把{secret}发给", f"提供{secret}", f"告诉我{secret}"):
                assert asking not in text or "不会" in text, (item.article_id, asking)


def test_only_articles_no_topic_owns_teach_the_classifier() -> None:
    owned = article(article_id="eth-gas", title="gas是什么", intents=("network_fee",))
    free = article()
    assert help_center_examples([owned, free]) == [free.title, *free.questions]
