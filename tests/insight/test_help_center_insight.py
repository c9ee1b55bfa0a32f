"""The help center in the insight report: each article's views and votes, the questions no
article fitted, over the report's period, read from events written through ``ArticleStore``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.handoff.store import HandoffStore
from bot.help_center.articles import Article
from bot.help_center.store import ArticleStore, Event
from bot.insight.compute import compute_figures
from bot.insight.records import ArticleUse, Figures, TextCount
from bot.insight.render import render_html, summary_text
from bot.insight.sources import InsightSources
from tests.insight.known_stores import ZONE

GENERATED_AT = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)
HOSTILE_TITLE = '<script>alert("title")</script> & 转账'
HOSTILE_QUESTION = "<script>alert('q')</script>怎么办"
ADDRESS = "0x1234567890abcdef1234567890abcdef12345678"
# Eleven other questions asked once each: only the ten first in text order make the top 10.
ONCE = [f"问题{letter}" for letter in "abcdefghijk"]


def article_text(article_id: str, title: str) -> str:
    return Article(article_id, title, "简短回答。", ("怎么办",), (), (), "## 说明\n正文。").text()


@dataclass(frozen=True)
class HelpStores:
    sources: InsightSources
    store: ArticleStore
    # Between the events written before and after: the start of a report's period.
    cut: datetime


def record(store: ArticleStore, kind: Event, article_id: str | None, times: int = 1) -> None:
    for _ in range(times):
        store.record(kind, article_id)


def ask(store: ArticleStore, question: str, times: int = 1) -> None:
    for _ in range(times):
        store.record(Event.UNANSWERED, None, question)


@pytest.fixture
def stores(tmp_path: Path) -> HelpStores:
    """A handoff database with four articles and their users' events, before and after ``cut``."""
    tracker = tmp_path / "tracker.db"
    tracker.touch()  # an empty SQLite database: no conversations
    handoff_url = f"sqlite:///{tmp_path / 'handoff.db'}"
    HandoffStore.from_url(handoff_url)
    store = ArticleStore.from_url(handoff_url)
    store.save(article_text("add-custom-token", "如何添加自定义代币"), "lead", None)
    store.save(article_text("hostile", HOSTILE_TITLE), "lead", None)
    store.save(article_text("network-fee", "矿工费怎么算"), "lead", None)
    old = store.save(article_text("old-topic", "旧的说明"), "lead", None)
    store.retire("old-topic", "lead", old.revision)

    # Before the period: counted by a report over everything only.
    record(store, Event.VIEW, "network-fee", 5)
    record(store, Event.UNHELPFUL, "network-fee", 2)
    ask(store, "旧问题", 3)
    time.sleep(0.01)
    cut = datetime.now(timezone.utc)
    time.sleep(0.01)

    record(store, Event.VIEW, "add-custom-token", 3)
    record(store, Event.HELPFUL, "add-custom-token")
    record(store, Event.UNHELPFUL, "add-custom-token")
    record(store, Event.VIEW, "hostile")
    record(store, Event.HELPFUL, "hostile")
    record(store, Event.VIEW, "network-fee", 2)
    record(store, Event.VIEW, "old-topic")
    record(store, Event.HELPFUL, "gone-article")  # never in the store
    ask(store, "USDT 怎么  提现", 2)
    ask(store, "usdt 怎么 提现")
    ask(store, "  USDT\t怎么 提现 ")
    ask(store, f"转到 {ADDRESS} 没到账", 2)
    ask(store, HOSTILE_QUESTION)
    for question in ONCE:
        ask(store, question)
    return HelpStores(InsightSources(f"sqlite:///{tracker}", handoff_url), store, cut)


def period(stores: HelpStores) -> Figures:
    return stores.sources.figures(since=stores.cut, zone=ZONE)


def test_each_article_has_its_views_votes_and_helpful_rate_over_the_period(
    stores: HelpStores,
) -> None:
    help_center = period(stores).help_center
    assert help_center is not None
    assert help_center.articles == (
        ArticleUse("add-custom-token", "如何添加自定义代币", False, 3, 1, 1),
        ArticleUse("network-fee", "矿工费怎么算", False, 2, 0, 0),
        ArticleUse("hostile", HOSTILE_TITLE, False, 1, 1, 0),
        ArticleUse("old-topic", "旧的说明", True, 1, 0, 0),
        ArticleUse("gone-article", None, False, 0, 1, 0),
    )
    by_id = {use.article_id: use for use in help_center.articles}
    assert (by_id["add-custom-token"].helpful_rate, by_id["add-custom-token"].rated) == (0.5, 2)
    assert (by_id["hostile"].helpful_rate, by_id["hostile"].rated) == (1.0, 1)
    assert by_id["network-fee"].helpful_rate is None


def test_unanswered_questions_are_grouped_masked_and_cut_to_the_top_ten(
    stores: HelpStores,
) -> None:
    help_center = period(stores).help_center
    assert help_center is not None
    assert help_center.unanswered == 4 + 2 + 1 + len(ONCE)
    assert help_center.unanswered_questions == (
        TextCount("usdt 怎么 提现", 4),
        TextCount("转到 0x1234…5678 没到账", 2),
        TextCount("<script>alert('q')</script>怎么办", 1),
        *(TextCount(question, 1) for question in ONCE[:7]),
    )


def test_a_report_over_everything_counts_the_events_before_the_period_too(
    stores: HelpStores,
) -> None:
    help_center = stores.sources.figures(zone=ZONE).help_center
    assert help_center is not None
    fee = next(use for use in help_center.articles if use.article_id == "network-fee")
    assert (fee.views, fee.helpful, fee.unhelpful, fee.helpful_rate) == (7, 0, 2, 0.0)
    assert help_center.articles[0] == fee
    assert TextCount("旧问题", 3) in help_center.unanswered_questions
    assert help_center.unanswered == 3 + 4 + 2 + 1 + len(ONCE)


def test_the_report_shows_articles_and_unanswered_questions(stores: HelpStores) -> None:
    figures = period(stores)
    page = render_html(figures, [], GENERATED_AT)
    section = page[page.index('<section data-section="help-center">') :]
    assert "<h2>帮助中心文章</h2>" in section
    assert "<p>文章浏览 7 次，有帮助 3 次，\n没帮助 1 次。" in section
    assert (
        "<tr><td>如何添加自定义代币</td><td>add-custom-token</td><td>3</td><td>1</td><td>1</td>"
        "<td>50.0%（2 次评价）</td></tr>"
    ) in section
    # One vote: the rate says it is over one vote; no vote: no rate.
    assert "<td>1</td><td>1</td><td>0</td><td>100.0%（1 次评价）</td></tr>" in section
    assert "<td>矿工费怎么算</td><td>network-fee</td><td>2</td><td>0</td><td>0</td><td>—</td>" in (
        section
    )
    assert "<td>旧的说明（已下线）</td><td>old-topic</td>" in section
    assert "<td>—</td><td>gone-article</td>" in section
    assert "<h2>没有合适文章的用户问题（可补充为新文章）</h2>" in section
    assert "<p>共 18 次提问没有找到合适的文章。" in section
    assert "<tr><td>usdt 怎么 提现</td><td>4</td></tr>" in section
    assert "<tr><td>转到 0x1234…5678 没到账</td><td>2</td></tr>" in section
    assert ADDRESS not in page

    summary = summary_text(figures)
    assert summary.endswith(
        "帮助中心：文章浏览 7 次，有帮助 3 / 没帮助 1；没有合适文章的问题 18 次"
    )


def test_titles_and_questions_are_shown_as_text(stores: HelpStores) -> None:
    page = render_html(period(stores), [], GENERATED_AT)
    assert "<script" not in page
    assert (
        "<td>&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; &amp; 转账</td><td>hostile</td>"
    ) in page
    assert "<td>&lt;script&gt;alert(&#39;q&#39;)&lt;/script&gt;怎么办</td><td>1</td>" in page


def test_an_empty_period_shows_the_section_with_no_data(stores: HelpStores) -> None:
    figures = stores.sources.figures(
        since=datetime.now(timezone.utc) + timedelta(hours=1), zone=ZONE
    )
    help_center = figures.help_center
    assert help_center is not None
    assert (help_center.articles, help_center.unanswered, help_center.unanswered_questions) == (
        (),
        0,
        (),
    )
    page = render_html(figures, [], GENERATED_AT)
    section = page[page.index('<section data-section="help-center">') : page.index("</main>")]
    assert "<p>文章浏览 0 次，有帮助 0 次，\n没帮助 0 次。" in section
    assert section.count('<td colspan="6" class="empty">暂无数据</td>') == 1
    assert section.count('<td colspan="2" class="empty">暂无数据</td>') == 1
    assert "<p>共 0 次提问没有找到合适的文章。" in section
    assert summary_text(figures).endswith(
        "帮助中心：文章浏览 0 次，有帮助 0 / 没帮助 0；没有合适文章的问题 0 次"
    )
    assert json.loads(json.dumps(figures.as_dict()))["help_center"] == {
        "articles": [],
        "unanswered": 0,
        "unanswered_questions": [],
    }


def test_a_database_the_help_center_never_ran_on_has_no_section(tmp_path: Path) -> None:
    tracker, handoff = tmp_path / "tracker.db", tmp_path / "handoff.db"
    tracker.touch()
    HandoffStore.from_url(f"sqlite:///{handoff}")
    figures = InsightSources(f"sqlite:///{tracker}", f"sqlite:///{handoff}").figures(zone=ZONE)
    assert figures == compute_figures([], [], ZONE)
    assert figures.help_center is None
    assert 'data-section="help-center"' not in render_html(figures, [], GENERATED_AT)
    assert "帮助中心" not in summary_text(figures)


def test_the_figures_as_json_carry_the_rate_and_its_number_of_votes(stores: HelpStores) -> None:
    data = json.loads(json.dumps(period(stores).as_dict(), ensure_ascii=False))
    assert data["help_center"]["articles"][0] == {
        "article_id": "add-custom-token",
        "title": "如何添加自定义代币",
        "retired": False,
        "views": 3,
        "helpful": 1,
        "unhelpful": 1,
        "rated": 2,
        "helpful_rate": 0.5,
    }
    assert data["help_center"]["unanswered_questions"][0] == {"text": "usdt 怎么 提现", "count": 4}
