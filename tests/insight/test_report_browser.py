"""The insight report and the agent dashboard in headless Chromium.

The report is generated from the known stores of ``test_figures``; the dashboard runs in a served
stack of its own (its figures count every conversation in its stores) after users were driven
over REST and an agent worked a ticket through the API.
Screenshots go to results/screenshots/ (report.png, agent_dashboard.png).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright import sync_api

from bot.handoff.records import Reason, Role, State
from bot.handoff.sla import SlaPolicy
from bot.handoff.store import HandoffStore
from bot.help_center.articles import Article
from bot.help_center.store import ArticleStore, Event
from bot.insight.compute import compute_figures
from bot.insight.labels import load_insight_labels
from bot.insight.records import (
    ChannelActivity,
    IntentCount,
    RatingGroup,
    ReasonCount,
    UserTurn,
)
from bot.insight.render import render_html, summary_text
from bot.insight.report import write_report
from bot.insight.sources import InsightSources
from tests.browser import SCREENSHOTS, chromium
from tests.insight.known_stores import ZONE, known_sources
from tests.support.http import CONSOLE_API, LEAD, AgentConsole, RestUser
from tests.support.stack import ALWAYS_OPEN, ServedStack, running_stack

WAIT_MS = 15_000
HOSTILE = '<img id="pwned" src=x onerror=alert(1)>'
GENERATED_AT = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)
HEADINGS = [
    "每日会话与用户消息",
    "各渠道",
    "热门意图与未能理解",
    "自助解决与转人工",
    "人工处理时效",
    "团队与客服",
    "分配等待",
    "工单标签",
    "满意度评分",
    "低置信度用户消息（可补充为训练样例）",
]
CHARTS = ["daily", "channels", "intents", "containment", "ratings"]


expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(1100, 900) as context:
        yield context


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    alerts: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    try:
        yield tab
    finally:
        tab.close()
    assert errors == [], "the page's script failed"
    assert alerts == []


def kpis(page: Any) -> dict[str, str]:
    cards = page.locator('[data-testid="kpi"]')
    return {
        cards.nth(i).locator(".label").inner_text(): cards.nth(i).locator(".value").inner_text()
        for i in range(cards.count())
    }


def test_the_report_opens_in_chromium_with_chinese_headings_and_charts(
    page: Any, tmp_path: Path
) -> None:
    figures = known_sources(tmp_path).figures(zone=ZONE)
    report = write_report(figures, tmp_path / "report.html", GENERATED_AT)

    page.goto(report.as_uri())

    expect(page.locator("h1")).to_have_text("IM钱包智能客服 · 服务洞察报告")
    assert page.locator("h2").all_inner_texts() == HEADINGS
    assert (
        page.locator(".meta")
        .inner_text()
        .startswith("统计区间：2026-03-01 至 2026-03-02（Asia/Shanghai）")
    )
    charts = page.locator("img[data-chart]")
    assert [charts.nth(i).get_attribute("data-chart") for i in range(charts.count())] == CHARTS
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.get_attribute("src").startswith("data:image/png;base64,")
        assert chart.evaluate("img => img.complete && img.naturalWidth > 400")
    assert kpis(page) == {
        "会话数": "8",
        "用户消息数": "28",
        "自助解决率": "50.0%",
        "未能理解占比": "29.2%",
        "平均满意度": "3.60",
        "转人工等待（中位数）": "1 分 30 秒",
    }
    times = page.get_by_test_id("table-handoff-times")
    expect(times).to_contain_text("等待时长 P90")
    expect(times).to_contain_text("5 分 0 秒")
    expect(times).to_contain_text("20 分 0 秒")
    low = page.get_by_test_id("table-low-confidence").locator("tbody tr")
    assert low.all_inner_texts() == [
        "怎么回事\t4",
        "[已隐藏]\t1",
        "什么意思\t1",
        "我的地址 0x1234…5678\t1",
    ]
    expect(page.get_by_test_id("table-reasons")).to_contain_text("账户疑似被盗")
    ratings = page.get_by_test_id("table-ratings").locator("tbody tr")
    assert ratings.all_inner_texts() == [
        "全部\t5\t3.60\t0\t1\t1\t2\t1",
        "仅机器人\t3\t4.33\t0\t0\t0\t2\t1",
        "转人工后\t2\t2.50\t0\t1\t1\t0\t0",
    ]
    # A self-contained page: nothing but the page itself was loaded.
    assert page.evaluate("performance.getEntriesByType('resource').length") == 0

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)


def test_user_text_in_the_report_is_shown_as_text(page: Any, tmp_path: Path) -> None:
    turn = UserTurn("x", GENERATED_AT, "rest", "nlu_fallback", HOSTILE)
    figures = compute_figures([turn, turn], [], ZONE)
    report = tmp_path / "hostile.html"
    report.write_text(render_html(figures, [], GENERATED_AT), encoding="utf-8")

    page.goto(report.as_uri())

    expect(page.get_by_test_id("table-low-confidence")).to_contain_text(HOSTILE)
    assert page.locator("#pwned").count() == 0
    assert page.locator("img").count() == 0


# The dashboard, against a running server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStack]:
    settings = {"SUPPORT_HOURS": ALWAYS_OPEN, "SUPPORT_TIMEZONE": "Asia/Shanghai"}
    with running_stack(tmp_path_factory.mktemp("insight-stack"), settings=settings) as local:
        HandoffStore.from_url(local.handoff_url).agents.add(
            LEAD.username, LEAD.name, LEAD.password, Role.SUPERVISOR
        )
        yield local


@pytest.fixture(scope="module")
def driven(stack: ServedStack) -> dict[str, Any]:
    """Four REST users: one answered and rated, one handed off, served and rated, one still
    queued, one who cancelled. Returns the served ticket and the local days of the drive."""
    first_day = datetime.now(ZONE).date()
    store = HandoffStore.from_url(stack.handoff_url)
    console = AgentConsole(stack.http)

    faq = RestUser(stack.http, "insight-faq")
    faq.say("矿工费怎么算")
    assert any("打个分" in text for text in faq.say("再见"))
    faq.say('/rate{"rating":"5"}')

    served = RestUser(stack.http, "insight-served")
    served.say("怎么回事")
    assert any("转接人工" in text for text in served.say("啥意思"))
    ticket = store.tickets.open_for(served.sender)
    assert ticket is not None
    assert console.post(f"/tickets/{ticket.ticket_id}/claim")[0] == 200
    assert console.post(f"/tickets/{ticket.ticket_id}/reply", {"text": "您好"})[0] == 200
    served.say("我的U提到交易所没到")  # to the agent, not the bot
    assert console.post(f"/tickets/{ticket.ticket_id}/close", {"note": "ok"})[0] == 200
    served.say('/rate{"rating":"2"}')

    queued = RestUser(stack.http, "insight-queued")
    queued.say("我要人工客服")
    # Waiting for a human, never in silence: the place in the queue.
    assert any("您仍在排队" in text for text in queued.say("有人吗"))

    cancel = RestUser(stack.http, "insight-cancel")
    cancel.say("转人工")
    assert "取消排队" in cancel.say("不用了")[0]

    closed = store.tickets.get(ticket.ticket_id)
    assert closed is not None and closed.state is State.CLOSED and closed.rating == 2
    return {"ticket": closed, "days": {first_day, datetime.now(ZONE).date()}}


def test_the_insight_api_needs_a_supervisor_s_login(stack: ServedStack) -> None:
    url = f"{CONSOLE_API}/insight"
    assert stack.http.get(url).status == 401
    assert stack.http.get(url, headers={"Authorization": "Bearer forged-token"}).status == 401
    assert AgentConsole(stack.http).call("GET", "/insight").status == 403


def test_both_pages_get_the_names_from_one_route_and_one_shared_script(stack: ServedStack) -> None:
    labels = stack.http.get(f"{CONSOLE_API}/labels")
    assert (labels.status, labels.json()) == (200, load_insight_labels().for_pages())
    for name in ("console", "dashboard"):
        html = stack.http.get(f"/webhooks/agent/{name}").text
        assert html.index('"static/common.js"') < html.index(f'"static/agent_{name}.js"')
    served = stack.http.get("/webhooks/agent/static/common.js")
    assert served.status == 200 and served.content_type.startswith("text/javascript")
    assert "innerHTML" not in served.text


def test_the_api_figures_match_what_was_driven(stack: ServedStack, driven: dict[str, Any]) -> None:
    data = AgentConsole(stack.http, LEAD).get("/insight")

    sources = InsightSources(f"sqlite:///{stack.workdir / 'tracker.db'}", stack.handoff_url)
    policy = SlaPolicy.from_env({"SUPPORT_HOURS": ALWAYS_OPEN})
    figures = sources.figures(zone=ZoneInfo("Asia/Shanghai"), sla=policy)
    assert data == json.loads(json.dumps(figures.as_dict()))

    assert figures.conversations == 4
    assert figures.user_messages == 11
    assert {day.day for day in figures.days} <= driven["days"]
    assert figures.channels == (ChannelActivity("rest", 4, 11),)
    # "我的U提到交易所没到" went to the agent and "有人吗", "不用了" to the waiting queue.
    understanding = figures.understanding
    assert (understanding.messages, understanding.fallbacks) == (8, 2)
    assert understanding.intents == (
        IntentCount("nlu_fallback", 2),
        IntentCount("rate", 2),
        IntentCount("request_human", 2),
        IntentCount("goodbye", 1),
        IntentCount("network_fee", 1),
    )
    containment = figures.containment
    assert (containment.contained, containment.handed_off) == (2, 2)
    assert containment.by_reason == (
        ReasonCount(Reason.REQUESTED, 1),
        ReasonCount(Reason.FALLBACK, 1),
    )
    served = driven["ticket"]
    times = figures.handoff_times
    assert (times.tickets, times.cancelled, times.claimed, times.closed) == (2, 1, 1, 1)
    waited = (served.assigned_at - served.created_at).total_seconds()
    assert times.wait_median == times.wait_p90 == waited
    assert times.handling_median == (served.closed_at - served.assigned_at).total_seconds()
    ratings = figures.ratings
    assert ratings.overall == RatingGroup("all", (0, 1, 0, 0, 1))
    assert ratings.handoff == RatingGroup("handoff", (0, 1, 0, 0, 0))
    assert ratings.bot_only == RatingGroup("bot_only", (0, 0, 0, 0, 1))
    assert ratings.by_channel == (RatingGroup("rest", (0, 1, 0, 0, 1)),)
    assert [(row.text, row.count) for row in figures.low_confidence] == [
        ("啥意思", 1),
        ("怎么回事", 1),
    ]
    assert "会话 4 个，用户消息 11 条" in summary_text(figures)


def test_the_dashboard_shows_the_figures_to_a_logged_in_agent(
    page: Any, stack: ServedStack, driven: dict[str, Any]
) -> None:
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    answer = page.goto(f"{stack.base_url}/webhooks/agent/dashboard")
    assert "'unsafe-inline'" not in answer.headers["content-security-policy"]
    expect(page.get_by_test_id("login-view")).to_be_visible()
    page.get_by_test_id("login-username").fill(LEAD.username)
    page.get_by_test_id("login-password").fill(LEAD.password)
    page.get_by_test_id("login-submit").click()

    expect(page.get_by_test_id("dashboard-view")).to_be_visible()
    expect(page.get_by_test_id("kpi-conversations")).to_have_text("4")
    expect(page.get_by_test_id("kpi-messages")).to_have_text("11")
    expect(page.get_by_test_id("kpi-containment")).to_have_text("50.0%")
    expect(page.get_by_test_id("kpi-fallback")).to_have_text("25.0%")
    expect(page.get_by_test_id("kpi-rating")).to_have_text("3.50")
    expect(page.get_by_test_id("intent-row").first).to_contain_text("nlu_fallback（未能理解")
    expect(page.get_by_test_id("reason-row")).to_have_count(2)
    expect(page.get_by_test_id("table-reasons")).to_contain_text("机器人未能理解")
    expect(page.get_by_test_id("low-confidence-row")).to_have_count(2)
    expect(page.get_by_test_id("table-ratings")).to_contain_text("转人工后")
    assert page.evaluate("sessionStorage.getItem('imAgentConsole.token')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "agent_dashboard.png"), full_page=True)

    # The console's login is the dashboard's: a reload keeps the agent logged in.
    page.reload()
    expect(page.get_by_test_id("kpi-conversations")).to_have_text("4")
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-view")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    assert refused == [], "the dashboard broke its Content-Security-Policy"


def test_the_api_and_the_dashboard_show_the_help_center_as_text(
    page: Any, stack: ServedStack
) -> None:
    store = ArticleStore.from_url(stack.handoff_url)
    text = Article("insight-hostile", HOSTILE, "简短回答。", ("看板测试专用问题",), (), (), "正文")
    saved = store.save(text.text(), "lead", None)
    store.retire("insight-hostile", "lead", saved.revision)  # never served to the users here
    store.record(Event.VIEW, "insight-hostile")
    store.record(Event.HELPFUL, "insight-hostile")
    question = f"{HOSTILE} 看板  测试 问题"
    for asked in (question, question.upper(), question):
        store.record(Event.UNANSWERED, None, asked)

    help_center = AgentConsole(stack.http, LEAD).get("/insight")["help_center"]
    mine = [a for a in help_center["articles"] if a["article_id"] == "insight-hostile"]
    assert mine == [
        {
            "article_id": "insight-hostile",
            "title": HOSTILE,
            "retired": True,
            "views": 1,
            "helpful": 1,
            "unhelpful": 0,
            "rated": 1,
            "helpful_rate": 1.0,
        }
    ]
    grouped = " ".join(question.lower().split())
    assert {"text": grouped, "count": 3} in help_center["unanswered_questions"]

    page.goto(f"{stack.base_url}/webhooks/agent/dashboard")
    page.get_by_test_id("login-username").fill(LEAD.username)
    page.get_by_test_id("login-password").fill(LEAD.password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("help-center")).to_be_visible()
    article = page.get_by_test_id("help-article-row").filter(has_text="insight-hostile")
    expect(article).to_have_count(1)
    assert article.inner_text().split("\t")[:6] == [
        f"{HOSTILE}（已下线）",
        "insight-hostile",
        "1",
        "1",
        "0",
        "100.0%（1 次评价）",
    ]
    asked = page.get_by_test_id("help-unanswered-row").filter(has_text="看板 测试 问题")
    expect(asked).to_have_count(1)
    assert asked.inner_text().split("\t")[:2] == [grouped, "3"]
    assert page.locator("#pwned").count() == 0
