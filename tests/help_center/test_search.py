"""The search: users' words, scripts and slang find the article; nothing fits an off-topic one."""

from __future__ import annotations

import pytest

from bot.help_center.articles import load_directory
from bot.help_center.index import ArticleIndex
from bot.help_center.terms import query_terms, search_terms


@pytest.fixture(scope="module")
def index() -> ArticleIndex:
    return ArticleIndex(load_directory())


def best(index: ArticleIndex, question: str) -> str | None:
    hits = index.search(question)
    return hits[0].article_id if hits else None


@pytest.mark.parametrize(
    ("question", "article_id"),
    [
        ("怎么把之前给dapp的授权取消掉", "revoke-approval"),
        ("點樣取消授權", "revoke-approval"),  # traditional, Cantonese
        ("how to revoke approval", "revoke-approval"),  # English, through the lexicon's terms
        ("闪兑的滑点设多少合适", "swap-slippage"),
        ("ＮＦＴ在哪里看", "nft-not-showing"),  # full-width
    ],
)
def test_users_words_find_the_article(index: ArticleIndex, question: str, article_id: str) -> None:
    assert best(index, question) == article_id


def test_slang_becomes_the_articles_word() -> None:
    assert "usdt" in search_terms("我的U呢") and "eth" in search_terms("姨太")
    assert "等待确认" in search_terms("一直pending")
    assert "usdt" not in search_terms("undo")  # an English synonym only as a whole word


@pytest.mark.parametrize("question", ["", "😀😀😀", "今天深圳天气怎么样", "周末去哪里爬山好"])
def test_nothing_fits_what_no_article_is_about(index: ArticleIndex, question: str) -> None:
    assert index.search(question) == []


def test_a_long_paste_is_cut_to_a_question(index: ArticleIndex) -> None:
    long = "我的币怎么还没到账" * 200
    assert len(query_terms(long)) == len(query_terms(long[:500]))
    index.search(long)  # answered, within the budget scripts/evaluate_help_center.py measures


def test_the_ranking_offers_more_than_the_best(index: ArticleIndex) -> None:
    hits = index.ranked("转账失败了还扣了手续费", 3)
    assert len(hits) == 3 and hits[0].score >= hits[1].score >= hits[2].score
    assert "failed-fee-charged" in [hit.article_id for hit in hits]
