"""The agent console page in headless Chromium, against the served stack (its queue emptied
first for each test: the shared stack holds earlier tests' tickets).

The pages run under the server's Content-Security-Policy (no inline script or style): every tab
fails its test if Chromium reports a violation, and the served HTML is checked for inline code.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from playwright import sync_api

from bot.handoff.records import Reason, State, Summary, Ticket
from bot.handoff.store import HandoffStore
from tests.browser import SCREENSHOTS, chromium
from tests.support.http import AGENT, RestUser
from tests.support.stack import ServedStack, empty_queue

WAIT_MS = 15_000
HOSTILE = '<b id="pwned">x</b><img src=x onerror=alert(1)>'
PAGES = ["console", "dashboard", "review"]


class InlineCode(HTMLParser):
    """Collects what a Content-Security-Policy without 'unsafe-inline' would refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {name}=" for name in names if name == "style" or name[:2] == "on"]


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


expect = sync_api.expect


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"agent_console_{name}.png"))


@pytest.fixture
def stack(served: ServedStack) -> ServedStack:
    empty_queue(served)
    return served


@pytest.fixture
def store(stack: ServedStack) -> HandoffStore:
    return HandoffStore.from_url(stack.handoff_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(1280, 800) as context:
        yield context


@pytest.fixture
def page(browser: Any, stack: ServedStack) -> Iterator[Any]:
    """A fresh tab on the console; its sessionStorage starts empty, so it is logged out."""
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_MS)
    script_errors: list[str] = []
    refused: list[str] = []
    tab.on("pageerror", lambda error: script_errors.append(str(error)))
    tab.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    answer = tab.goto(f"{stack.base_url}/webhooks/agent/console")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    try:
        yield tab
    finally:
        tab.close()
    assert script_errors == [], "the page's script failed"
    assert refused == [], "the page broke its Content-Security-Policy"


def log_in(page: Any, password: str = AGENT.password) -> None:
    page.get_by_test_id("login-username").fill(AGENT.username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def queue_item(page: Any, ticket_id: int) -> Any:
    return page.locator(f'[data-testid="queue-item"][data-ticket-id="{ticket_id}"]')


def messages(page: Any, role: str) -> Any:
    return page.locator(f'[data-testid="message"][data-role="{role}"] [data-testid="message-text"]')


def fall_back_twice(user: RestUser, store: HandoffStore) -> Ticket:
    """Two unclear messages in a row queue the REST user for a human."""
    user.say("怎么回事")
    assert any("转接人工" in text for text in user.say("啥意思"))
    ticket = store.tickets.open_for(user.sender)
    assert ticket is not None and ticket.state is State.QUEUED
    return ticket


def open_in_console(page: Any, ticket: Ticket) -> None:
    log_in(page)
    expect(page.get_by_test_id("agent-name")).to_have_text(AGENT.username, timeout=WAIT_MS)
    item = queue_item(page, ticket.ticket_id)
    expect(item).to_be_visible(timeout=WAIT_MS)
    item.click()
    expect(page.get_by_test_id("ticket-detail")).to_have_attribute(
        "data-ticket-id", str(ticket.ticket_id), timeout=WAIT_MS
    )


def claim(page: Any) -> None:
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("ticket-detail")).to_have_attribute(
        "data-state", "assigned", timeout=WAIT_MS
    )


def close(page: Any, note: str) -> None:
    page.get_by_test_id("close-note").fill(note)
    page.get_by_test_id("close-button").click()
    expect(page.get_by_test_id("ticket-detail")).to_have_attribute(
        "data-state", "closed", timeout=WAIT_MS
    )


def test_a_wrong_password_shows_an_error_and_no_queue(page: Any) -> None:
    log_in(page, password="not-the-password")

    expect(page.get_by_test_id("login-error")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("login-error")).to_contain_text("用户名或密码错误")
    expect(page.get_by_test_id("console-view")).to_be_hidden()
    expect(page.get_by_test_id("queue-item")).to_have_count(0)
    assert page.evaluate("sessionStorage.length") == 0
    screenshot(page, "login_error")


def test_an_agent_takes_over_a_fallback_conversation_and_is_rated(
    page: Any, stack: ServedStack, store: HandoffStore
) -> None:
    user = RestUser(stack.http, "console-fallback-1")
    ticket = fall_back_twice(user, store)

    log_in(page)
    expect(page.get_by_test_id("agent-name")).to_have_text(AGENT.username, timeout=WAIT_MS)
    item = queue_item(page, ticket.ticket_id)
    expect(item).to_be_visible(timeout=WAIT_MS)
    expect(item.get_by_test_id("queue-item-reason")).to_have_text("机器人未能理解")
    expect(item.get_by_test_id("queue-item-urgency")).to_have_text("普通")
    screenshot(page, "queue")

    item.click()
    summary = page.get_by_test_id("summary-last-messages")
    expect(summary).to_contain_text("怎么回事", timeout=WAIT_MS)
    expect(summary).to_contain_text("啥意思")
    expect(page.get_by_test_id("detail-conversation")).to_contain_text(user.sender)
    expect(page.get_by_test_id("reply-send")).to_be_disabled()

    claim(page)
    expect(page.get_by_test_id("claim-button")).to_be_hidden()
    claimed = store.tickets.get(ticket.ticket_id)
    assert claimed is not None and claimed.agent == AGENT.username

    reply = "您好，我是客服小李，请问遇到了什么问题？"
    page.get_by_test_id("reply-input").fill(reply)
    page.get_by_test_id("reply-send").click()
    expect(messages(page, "agent").filter(has_text=reply)).to_have_count(1, timeout=WAIT_MS)
    expect(page.get_by_test_id("reply-input")).to_have_value("")

    answer = user.say("还在吗")
    assert answer[-1] == reply
    # Besides the reply only the notice that the agent joined: the bot stays silent.
    assert all("已接入" in text for text in answer[:-1]), answer

    expect(messages(page, "user").filter(has_text="还在吗")).to_have_count(1, timeout=WAIT_MS)
    screenshot(page, "conversation")

    note = "用户问到账时间，已解释"
    close(page, note)
    expect(page.get_by_test_id("close-note-text")).to_have_text(note)
    expect(item).to_have_count(0, timeout=WAIT_MS)
    closed = store.tickets.get(ticket.ticket_id)
    assert closed is not None and closed.state is State.CLOSED and closed.close_note == note
    screenshot(page, "closed")

    assert any("打个分" in text for text in user.say("谢谢"))
    assert store.tickets.open_for(user.sender) is None, "the user was handed off again"
    user.say('/rate{"rating":"5"}')
    rated = store.tickets.get(ticket.ticket_id)
    assert rated is not None and rated.rating == 5
    expect(page.get_by_test_id("summary-rating")).to_have_text("5 分", timeout=WAIT_MS)
    screenshot(page, "rated")


def test_hostile_user_text_is_shown_as_text(
    page: Any, stack: ServedStack, store: HandoffStore
) -> None:
    user = RestUser(stack.http, "console-hostile")
    user.say(HOSTILE)
    user.say("转人工")
    ticket = store.tickets.open_for(user.sender)
    assert ticket is not None

    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    open_in_console(page, ticket)
    expect(messages(page, "user").filter(has_text=HOSTILE)).to_have_count(1, timeout=WAIT_MS)
    expect(page.get_by_test_id("summary-last-messages")).to_contain_text(HOSTILE)
    expect(page.get_by_test_id("detail-conversation")).to_contain_text(user.sender)

    assert page.locator("img").count() == 0
    assert page.locator("#pwned").count() == 0
    assert alerts == []
    screenshot(page, "hostile_text")


def test_an_ended_session_returns_to_the_login_form(page: Any, stack: ServedStack) -> None:
    log_in(page)
    expect(page.get_by_test_id("console-view")).to_be_visible(timeout=WAIT_MS)
    token = page.evaluate("sessionStorage.getItem('imAgentConsole.token')")
    assert token
    logout = stack.http.post(
        "/webhooks/agent/api/logout", headers={"Authorization": f"Bearer {token}"}
    )
    assert logout.status < 400, logout

    expect(page.get_by_test_id("login-view")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("login-error")).to_contain_text("重新登录")
    expect(page.get_by_test_id("console-view")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


@pytest.mark.parametrize("name", PAGES)
def test_the_pages_have_no_inline_script_or_style(stack: ServedStack, name: str) -> None:
    answer = stack.http.get(f"/webhooks/agent/{name}")
    assert answer.status == 200, answer
    html, policy = answer.text, answer.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "script-src 'self'" in policy
    assert inline_code(html) == []
    for asset, kind in ((f"agent_{name}.js", "text/javascript"), (f"agent_{name}.css", "text/css")):
        assert f'"static/{asset}"' in html
        served = stack.http.get(f"/webhooks/agent/static/{asset}")
        assert served.status == 200 and served.content_type.startswith(kind)


@pytest.mark.parametrize("name", ["widget.html", "agent_console.html", "..%2Fconsole.py"])
def test_only_the_pages_own_files_are_served_as_static(stack: ServedStack, name: str) -> None:
    assert stack.http.get(f"/webhooks/agent/static/{name}").status == 404


def test_a_locked_login_says_when_to_try_again(page: Any) -> None:
    page.get_by_test_id("login-username").fill("locked-out-agent")
    for attempt in range(6):
        page.get_by_test_id("login-password").fill(f"guess-{attempt}")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-submit")).to_be_enabled(timeout=WAIT_MS)
    expect(page.get_by_test_id("login-error")).to_contain_text("失败次数过多")
    expect(page.get_by_test_id("login-error")).to_contain_text("15 分钟后再试")
    screenshot(page, "login_locked")


def test_a_long_queue_is_shown_a_page_at_a_time(page: Any, store: HandoffStore) -> None:
    # Last in this module: the 60 tickets would push the other tests' tickets off page one.
    tickets = [
        store.tickets.open(f"console-paged-{n}", "rest", Reason.REQUESTED, Summary())
        for n in range(60)
    ]
    try:
        total = len(store.tickets.queue())
        log_in(page)
        expect(page.get_by_test_id("queue-count")).to_have_text(str(total), timeout=WAIT_MS)
        expect(page.get_by_test_id("queue-item")).to_have_count(50)
        expect(page.get_by_test_id("queue-range")).to_have_text(f"第 1–50 个，共 {total} 个")
        expect(page.get_by_test_id("queue-prev")).to_be_disabled()
        page.get_by_test_id("queue-next").click()
        expect(page.get_by_test_id("queue-item")).to_have_count(total - 50, timeout=WAIT_MS)
        expect(page.get_by_test_id("queue-range")).to_have_text(f"第 51–{total} 个，共 {total} 个")
        expect(page.get_by_test_id("queue-next")).to_be_disabled()
        screenshot(page, "queue_second_page")
        page.get_by_test_id("queue-prev").click()
        expect(page.get_by_test_id("queue-item")).to_have_count(50, timeout=WAIT_MS)
    finally:
        for ticket in tickets:
            store.tickets.cancel(ticket.conversation_id)
