"""The help center in headless Chromium against the production stack (two servers on one
PostgreSQL and one Redis): a lead edits an article's summary in the console's editor and, within
10 s, the chat widget on both servers answers a question the article covers with the new text,
and its link opens the article's page with it;
an agent sees the articles that fit an open ticket and puts one's summary into the reply box,
unsent; an article full of HTML shows as text in the editor, never as markup."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright import sync_api
from playwright.sync_api import ConsoleMessage, Page, Response

from bot.handoff.records import Role
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from scripts.desk_load import clear_desk
from scripts.local_stack import widget_token
from scripts.production_stack import ProductionStack
from tests.browser import SCREENSHOTS, chromium
from tests.support.http import AGENT, LEAD, AgentConsole, Http, Login, RestUser

expect = sync_api.expect
WAIT_MS = 15_000
FOLLOW_SECONDS = 10  # the bound: an edit reaches every server's answers within 10 s
ARTICLE = "add-custom-token"
QUESTION = "合约地址怎么导入代币？资产列表里找不到我买的币"
NEW_SUMMARY = "新版说明：在资产页点右上角「+」，先选链，再搜索代币名称或粘贴合约地址。"
HOSTILE = "<script>window.pwned=1</script>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(1280, 1000) as context:
        yield context


@pytest.fixture(scope="module")
def lead(production: ProductionStack) -> AgentConsole:
    HandoffStore.from_url(production.store_urls["HANDOFF_DB_URL"]).agents.add(
        LEAD.username, LEAD.name, LEAD.password, role=Role.SUPERVISOR
    )
    return AgentConsole(Http.to(production.base_urls[0]), LEAD)


def watched(page: Page) -> list[str]:
    """The page's script errors, console errors (a CSP violation among them) and failed
    requests with their address (the browser's own favicon request left out: no page has one)."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A failed request is also a console error, without its address: on_response has it.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def on_response(answer: Response) -> None:
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            problems.append(f"{answer.status} {answer.url}")

    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", on_console)
    page.on("response", on_response)
    return problems


def log_in(page: Page, login: Login) -> None:
    page.get_by_test_id("login-username").fill(login.username)
    page.get_by_test_id("login-password").fill(login.password)
    page.get_by_test_id("login-submit").click()


def open_widget(browser: Any, base_url: str, account_id: str) -> Page:
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{base_url}/webhooks/widget/chat#token={widget_token(account_id, minutes=30)}")
    expect(page.get_by_test_id("status")).to_have_text("在线")
    return page


def answered_with(page: Page, fragment: str, deadline: float) -> bool:
    """Asks QUESTION on the widget until an answer holds ``fragment``, or ``deadline`` passes."""
    replies = page.get_by_test_id("bot-message")
    while time.monotonic() < deadline:
        before = replies.count()
        page.get_by_test_id("input").fill(QUESTION)
        page.get_by_test_id("send").click()
        # The answer, then whatever follows it, until the widget is quiet for a second.
        quiet_since, seen = time.monotonic(), before
        while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline + 5:
            page.wait_for_timeout(200)
            if replies.count() != seen:
                seen, quiet_since = replies.count(), time.monotonic()
        if any(fragment in text for text in replies.all_inner_texts()[before:]):
            return True
    return False


def test_a_leads_edit_reaches_the_chat_on_both_servers_within_10_s(
    browser: Any, production: ProductionStack, lead: AgentConsole
) -> None:
    original = lead.get(f"/kb/articles/{ARTICLE}")
    widgets = [
        open_widget(browser, url, account)
        for url, account in zip(production.base_urls, (demo_data.ALICE, demo_data.BOB), strict=True)
    ]
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = watched(page)
    try:
        page.goto(f"{production.base_urls[0]}/webhooks/agent/kb")
        log_in(page, LEAD)
        page.get_by_test_id("filter").fill(ARTICLE)
        page.locator(f'[data-testid="article-row"][data-article-id="{ARTICLE}"]').click()
        editor = page.get_by_test_id("editor")
        expect(editor).to_have_value(re.compile(f"id: {ARTICLE}"))
        expect(page.get_by_test_id("preview-title")).to_have_text("如何添加自定义代币")
        expect(page.get_by_test_id("history-entry").first).to_be_visible()

        text = editor.input_value()
        edited = re.sub(r"(?m)^summary: .*$", f"summary: {NEW_SUMMARY}", text, count=1)
        assert edited != text
        editor.fill(edited)
        expect(page.get_by_test_id("dirty")).to_have_text("有未保存的修改")
        expect(page.get_by_test_id("preview-summary")).to_have_text(NEW_SUMMARY)
        page.get_by_test_id("save").click()
        saved_at = time.monotonic()
        expect(page.get_by_test_id("notice")).to_contain_text("已保存")
        expect(page.get_by_test_id("dirty")).to_have_text("")
        newest = page.get_by_test_id("history-entry").first
        expect(newest.get_by_test_id("history-head")).to_contain_text(LEAD.username)
        expect(newest.get_by_test_id("history-diff")).to_contain_text(f"+summary: {NEW_SUMMARY}")
        page.screenshot(path=str(SCREENSHOTS / "kb_editor_saved.png"), full_page=True)

        for server, widget in enumerate(widgets):
            assert answered_with(widget, NEW_SUMMARY, saved_at + FOLLOW_SECONDS), (
                f"server {server + 1} did not answer with the new summary within "
                f"{FOLLOW_SECONDS} s of the save"
            )
        print(f"save to both servers' answers: {time.monotonic() - saved_at:.1f} s")
        widgets[1].screenshot(path=str(SCREENSHOTS / "kb_widget_new_summary.png"))

        # The answer's link opens the whole article, on the server the widget talks to.
        with widgets[1].expect_popup() as opened:
            widgets[1].get_by_test_id("article-link").last.click()
        article = opened.value
        article.set_viewport_size({"width": 390, "height": 844})  # a phone
        expect(article.get_by_test_id("article-title")).to_have_text("如何添加自定义代币")
        expect(article.get_by_test_id("article-summary")).to_have_text(NEW_SUMMARY)
        expect(article.get_by_test_id("article-body").locator("h2").first).to_have_text("操作步骤")
        article.screenshot(path=str(SCREENSHOTS / "kb_article_page.png"), full_page=True)
        article.close()
        assert problems == []
    finally:
        current = lead.get(f"/kb/articles/{ARTICLE}")
        if current["text"] != original["text"]:
            body = {"text": original["text"], "revision": current["revision"]}
            assert lead.post(f"/kb/articles/{ARTICLE}", body)[0] == 200
        for opened in [*widgets, page]:
            opened.close()


def test_an_agent_puts_a_suggested_articles_summary_in_the_reply_box(
    browser: Any, production: ProductionStack, lead: AgentConsole
) -> None:
    # The session's production stack holds earlier tests' tickets: its queue's first page is
    # this ticket's only when the queue starts empty.
    clear_desk(HandoffStore.from_url(production.store_urls["HANDOFF_DB_URL"]))
    user = RestUser(Http.to(production.base_urls[0]), f"kb-browser-{time.time_ns()}")
    user.say(QUESTION)
    user.say("转人工")
    ticket = AgentConsole(Http.to(production.base_urls[1])).ticket_of(user.sender)

    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = watched(page)
    page.goto(f"{production.base_urls[1]}/webhooks/agent/console")
    log_in(page, AGENT)
    expect(page.get_by_test_id("kb-link")).to_be_hidden()  # the editor is the leads'
    page.locator(f'[data-testid="queue-item"][data-ticket-id="{ticket["ticket_id"]}"]').click()
    suggestions = page.get_by_test_id("suggestion")
    expect(suggestions).to_have_count(3)
    first = suggestions.first
    expect(first).to_have_attribute("data-article-id", ARTICLE)
    expect(first).to_contain_text("如何添加自定义代币")
    expect(first.get_by_test_id("suggestion-insert")).to_be_disabled()  # claim first

    page.get_by_test_id("claim-button").click()
    expect(first.get_by_test_id("suggestion-insert")).to_be_enabled()
    summary = first.get_by_test_id("suggestion-summary").inner_text()
    assert "合约地址" in summary
    reply = page.get_by_test_id("reply-input")
    reply.fill("您好，")
    first.get_by_test_id("suggestion-insert").click()
    expect(reply).to_have_value(f"您好，\n{summary}")
    page.screenshot(path=str(SCREENSHOTS / "kb_agent_suggestions.png"), full_page=True)
    # Inserted, not sent: the user got nothing from the agent.
    page.wait_for_timeout(2500)
    expect(page.locator('[data-testid="message"][data-role="agent"]')).to_have_count(0)
    page.close()
    assert problems == []


def test_html_in_an_article_shows_as_text_in_the_editor(
    browser: Any, production: ProductionStack, lead: AgentConsole
) -> None:
    article_id = f"kb-browser-hostile-{time.time_ns()}"
    text = (
        f"---\nid: {article_id}\ntitle: 标题{HOSTILE}\nsummary: 摘要<img src=x onerror=pwned=2>\n"
        f"questions: [紫藤花园在哪里]\n---\n正文{HOSTILE}\n\n[客服](javascript:pwned=3)\n"
    )
    status, created = lead.post("/kb/articles", {"text": text})
    assert status == 200, created
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = watched(page)
    try:
        # A lead finds the editor from the console.
        page.goto(f"{production.base_urls[1]}/webhooks/agent/console")
        log_in(page, LEAD)
        page.get_by_test_id("kb-link").click()
        expect(page.get_by_test_id("kb-view")).to_be_visible()
        page.get_by_test_id("filter").fill("kb-browser-hostile")
        row = page.locator(f'[data-testid="article-row"][data-article-id="{article_id}"]')
        expect(row).to_contain_text(f"标题{HOSTILE}")
        row.click()
        expect(page.get_by_test_id("editor-title")).to_have_text(f"标题{HOSTILE}")
        expect(page.get_by_test_id("preview-title")).to_have_text(f"标题{HOSTILE}")
        expect(page.get_by_test_id("preview-summary")).to_have_text(
            "摘要<img src=x onerror=pwned=2>"
        )
        body = page.get_by_test_id("preview-body")
        expect(body).to_contain_text(f"正文{HOSTILE}")
        expect(body).to_contain_text("[客服](javascript:pwned=3)")
        assert body.locator("script, img, a").count() == 0
        page.screenshot(path=str(SCREENSHOTS / "kb_editor_hostile_text.png"), full_page=True)
        assert page.evaluate("typeof window.pwned") == "undefined"

        public = browser.new_page()
        public.goto(f"{production.base_urls[1]}/help/articles/{article_id}")
        expect(public.get_by_test_id("article-title")).to_have_text(f"标题{HOSTILE}")
        expect(public.get_by_test_id("article-body")).to_contain_text(f"正文{HOSTILE}")
        assert public.evaluate("typeof window.pwned") == "undefined"
        public.close()
        assert problems == []
    finally:
        current = lead.get(f"/kb/articles/{article_id}")
        lead.post(f"/kb/articles/{article_id}/retire", {"revision": current["revision"]})
        page.close()


def test_a_lead_writes_a_new_article_and_retires_it_on_the_page(
    browser: Any, production: ProductionStack, lead: AgentConsole
) -> None:
    article_id = f"kb-browser-new-{time.time_ns()}"
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = watched(page)
    page.goto(f"{production.base_urls[0]}/webhooks/agent/kb")
    log_in(page, LEAD)
    page.get_by_test_id("new-article").click()
    editor = page.get_by_test_id("editor")
    expect(editor).to_have_value(re.compile("^---\nid: "))
    expect(page.get_by_test_id("preview-summary")).not_to_be_empty()  # the template is valid
    editor.fill(editor.input_value().replace("id: new-article-id", "id: Not An Id", 1))
    expect(page.get_by_test_id("preview-error")).to_contain_text("文章格式有误")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("notice")).to_contain_text("文章格式有误")
    editor.fill(
        f"---\nid: {article_id}\ntitle: 紫藤花园怎么走\nsummary: 紫藤花园的门在东边。\n---\n正文\n"
    )
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("notice")).to_contain_text("已创建文章「紫藤花园怎么走」")
    row = page.locator(f'[data-testid="article-row"][data-article-id="{article_id}"]')
    expect(row).to_be_visible()
    expect(row.get_by_test_id("article-retired")).to_have_count(0)

    retire = page.get_by_test_id("retire")
    retire.click()
    expect(retire).to_have_text("确认下线")  # nothing happens on one click
    assert lead.get(f"/kb/articles/{article_id}")["retired"] is False
    retire.click()
    expect(page.get_by_test_id("notice")).to_contain_text("已下线「紫藤花园怎么走」")
    expect(row.get_by_test_id("article-retired")).to_have_text("已下线")
    expect(page.get_by_test_id("history-head").first).to_contain_text("（下线）")
    assert lead.get(f"/kb/articles/{article_id}")["retired"] is True
    page.screenshot(path=str(SCREENSHOTS / "kb_editor_retired.png"), full_page=True)
    page.close()
    # The 400 of the refused save is the page's own check, not a fault.
    assert [problem for problem in problems if "/api/kb/" not in problem] == []
