"""The supervisors' live view in headless Chromium against the served stack.

A theft victim in the in-app widget loops in the bot's clarifications without being handed off;
the supervisor sees the conversation flagged (被盗, 连续未理解) at the top of the live view, reads
it, and takes it over: the bot pauses, the user is told who joined, the user's next message gets
no bot answer and the supervisor's reply reaches the widget. A conversation that has an agent
gets a whisper (HTML in it and in the user's messages shown as text), cannot be taken over, and
is highlighted once its ticket is past the first-response target; agents get 403 from the live
API and a refusal on the page.

The stack is shared: the queue is emptied first, the desk's other agents are put offline and
this module's agents are deleted at the end.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from playwright import sync_api

from bot.channels.widget.channel import conversation_of
from bot.handoff.audit import TAKEOVER
from bot.handoff.records import Presence, Reason, Role, State, Team, Ticket, Urgency
from bot.handoff.store import HandoffStore
from scripts.local_stack import widget_token
from tests.browser import SCREENSHOTS, chromium
from tests.support.http import CONSOLE_API, AgentConsole, Login, RestUser
from tests.support.stack import ServedStack, empty_queue

WAIT_MS = 15_000
SUPERVISOR = Login("live-sun", "孙主管", "a-long-supervisor-password")
AGENT = Login("live-zhou", "周客服", "a-long-live-agent-password")
HOSTILE = '<b id="pwned">x</b><img src=x onerror=alert(1)>'
CLARIFY = "我不太确定您的意思"
PICK = "请点一下上面对应的选项"

expect = sync_api.expect


def screenshot(page: Any, step: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"live_view_{step}.png"))


@pytest.fixture
def stack(served: ServedStack) -> ServedStack:
    empty_queue(served)
    return served


@pytest.fixture
def desk(stack: ServedStack) -> Iterator[HandoffStore]:
    """A supervisor and an agent of 综合, the only agent online while the test runs; deleted
    afterwards with their tickets closed."""
    store = HandoffStore.from_url(stack.handoff_url)
    for profile in store.roster.profiles():
        if profile.presence is not Presence.OFFLINE:
            store.roster.heartbeat(profile.username, Presence.OFFLINE)
    store.agents.add(
        SUPERVISOR.username, SUPERVISOR.name, SUPERVISOR.password, Role.SUPERVISOR, tuple(Team)
    )
    store.agents.add(AGENT.username, AGENT.name, AGENT.password, Role.AGENT, (Team.GENERAL,))
    try:
        yield store
    finally:
        for login in (SUPERVISOR, AGENT):
            store.roster.heartbeat(login.username, Presence.OFFLINE)
        empty_queue(stack)
        for login in (SUPERVISOR, AGENT):
            store.agents.delete(login.username)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(1280, 800) as context:
        yield context


class Tabs:
    """The test's tabs, each failing the test if its script fails or breaks the page's CSP."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.opened: list[Any] = []
        self.problems: list[str] = []

    def open(self, path: str) -> Any:
        tab = self.browser.new_page()
        tab.set_default_timeout(WAIT_MS)
        tab.on("pageerror", lambda error: self.problems.append(f"script: {error}"))
        tab.on("console", self._logged)
        tab.on("dialog", self._dialog)
        self.opened.append(tab)
        tab.goto(f"{self.base_url}{path}")
        return tab

    def _logged(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")  # an alert() means injected script
        dialog.dismiss()

    def live(self, login: Login) -> Any:
        tab = self.open("/webhooks/agent/live")
        tab.get_by_test_id("login-username").fill(login.username)
        tab.get_by_test_id("login-password").fill(login.password)
        tab.get_by_test_id("login-submit").click()
        return tab

    def close(self) -> None:
        for tab in self.opened:
            tab.close()


@pytest.fixture
def tabs(browser: Any, stack: ServedStack) -> Iterator[Tabs]:
    opened = Tabs(browser, stack.base_url)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.problems == [], "a page's script failed, broke its CSP or raised a dialog"


def say(widget: Any, text: str, answer: str) -> None:
    """The widget user sends ``text`` and waits for one more bot message holding ``answer``."""
    answers = widget.get_by_test_id("bot-message").filter(has_text=answer)
    before = answers.count()
    widget.get_by_test_id("input").fill(text)
    widget.get_by_test_id("send").click()
    expect(answers).to_have_count(before + 1)


def row_of(page: Any, conversation_id: str) -> Any:
    return page.locator(f'[data-testid="live-row"][data-conversation-id="{conversation_id}"]')


def open_ticket_of(store: HandoffStore, conversation_id: str, agent: str | None) -> Ticket:
    """The conversation's open ticket, once it is assigned to ``agent`` (any state for None)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        found = store.tickets.open_for(conversation_id)
        if found is not None and (agent is None or found.agent == agent):
            return found
        time.sleep(0.2)
    raise AssertionError(f"no open ticket of {conversation_id} for {agent}")


def test_a_supervisor_takes_over_a_looping_theft_victim(
    tabs: Tabs, stack: ServedStack, desk: HandoffStore
) -> None:
    store = desk
    account = f"zq7-live-{time.time_ns()}"
    conversation = conversation_of(account, stack.identity_secret.encode())

    # A panicked theft victim, then unclear messages: the bot keeps asking, nobody is called.
    widget = tabs.open(f"/webhooks/widget/chat#token={widget_token(account)}")
    widget.set_viewport_size({"width": 390, "height": 844})
    expect(widget.get_by_test_id("status")).to_have_text("在线")
    say(widget, "我的币被盗了", "情况紧急")
    say(widget, "怎么办啊啊啊", CLARIFY)
    say(widget, "好", PICK)
    say(widget, "怎么办啊啊啊", CLARIFY)
    assert store.tickets.open_for(conversation) is None

    # The supervisor sees it flagged, at the top of the view.
    live = tabs.live(SUPERVISOR)
    expect(live.get_by_test_id("live-view")).to_be_visible()
    row = row_of(live, conversation)
    expect(row).to_have_attribute("data-flags", "theft,fallbacks", timeout=WAIT_MS)
    expect(row.get_by_test_id("flag")).to_have_text(["被盗", "连续未理解 ×3"])
    expect(row.get_by_test_id("live-intent")).to_have_text("未能理解（兜底）")
    expect(row.get_by_test_id("live-confidence")).to_have_text(re.compile(r"^\d{1,3}%$"))
    expect(row.get_by_test_id("live-ticket")).to_have_text("机器人接待")
    expect(row.get_by_test_id("live-conversation")).to_contain_text("App 内组件")
    first = live.get_by_test_id("live-row").first
    assert first.get_attribute("data-flags"), "a flagged conversation comes first"
    screenshot(live, "list")

    # It opens the conversation: the user's latest messages.
    row.click()
    detail = live.get_by_test_id("live-detail")
    expect(detail).to_have_attribute("data-conversation-id", conversation)
    messages = live.get_by_test_id("live-message")
    expect(messages.filter(has_text="我的币被盗了")).to_have_count(1)
    expect(live.locator('[data-testid="live-message"][data-role="bot"]')).to_contain_text(
        [CLARIFY, PICK, CLARIFY]
    )
    expect(live.get_by_test_id("whisper-form")).to_be_hidden()  # nobody to whisper to yet
    screenshot(live, "conversation")

    # It takes the conversation over (a second click confirms).
    takeover = live.get_by_test_id("takeover-button")
    takeover.click()
    expect(takeover).to_have_text("确认接管（机器人将暂停）")
    assert store.tickets.open_for(conversation) is None
    takeover.click()
    expect(live.get_by_test_id("notice")).to_contain_text("已接管")
    expect(row.get_by_test_id("live-ticket")).to_have_text(
        f"人工接待中 · {SUPERVISOR.username}", timeout=WAIT_MS
    )
    expect(takeover).to_be_hidden()
    expect(live.get_by_test_id("whisper-form")).to_be_hidden()  # its agent is the supervisor
    ticket = open_ticket_of(store, conversation, SUPERVISOR.username)
    assert ticket.state is State.ASSIGNED
    # A theft goes to the security team, urgent, as any handoff of it would.
    assert (ticket.team, ticket.urgency, ticket.reason) == (
        Team.SECURITY,
        Urgency.URGENT,
        Reason.COMPROMISED,
    )
    expect(live.get_by_test_id("detail-ticket")).to_have_text(
        f"人工接待中 · {SUPERVISOR.username} · 工单 #{ticket.ticket_id}"
    )
    expect(live.get_by_test_id("open-ticket")).to_have_attribute(
        "href", f"console#ticket={ticket.ticket_id}"
    )
    [entry] = [e for e in store.audit.entries(actor=SUPERVISOR.username) if e.action == TAKEOVER]
    assert entry.target == f"conversation:{conversation}"
    user_sees = widget.get_by_test_id("log")
    expect(user_sees).to_contain_text(f"人工客服 {SUPERVISOR.name} 已接入")
    screenshot(live, "takeover")

    # The user writes again: the bot stays silent, the supervisor reads it and replies.
    bot_lines = widget.get_by_test_id("bot-message")
    said = bot_lines.count()
    widget.get_by_test_id("input").fill("怎么办啊啊啊 还有人吗")
    widget.get_by_test_id("send").click()
    expect(messages.filter(has_text="还有人吗")).to_have_count(1, timeout=WAIT_MS)
    time.sleep(1.5)  # a bot answer would be out by now: it comes within the turn
    expect(bot_lines).to_have_count(said)
    lines = live.get_by_test_id("live-message")
    expect(lines.last).to_have_attribute("data-role", "user")
    supervisor = AgentConsole(stack.http, SUPERVISOR)
    reply = "您好，我是主管，已经为您处理被盗的问题，请先不要再向任何人提供验证码。"
    status, _ = supervisor.post(f"/tickets/{ticket.ticket_id}/reply", {"text": reply})
    assert status == 200
    expect(user_sees).to_contain_text(reply)
    expect(live.locator('[data-testid="live-message"][data-role="agent"]')).to_contain_text(
        [reply], timeout=WAIT_MS
    )
    screenshot(widget, "user")
    screenshot(live, "replied")

    # Taking over a conversation that has its ticket already: refused, the ticket named.
    again = supervisor.call("POST", f"/live/{conversation}/takeover", {})
    assert again.status == 409
    assert again.json()["ticket"]["ticket_id"] == ticket.ticket_id
    # A conversation nobody had is no one's to open or take over.
    nobody = f"live-nobody-{time.time_ns()}"
    assert supervisor.call("GET", f"/live/{nobody}").status == 404
    assert supervisor.call("POST", f"/live/{nobody}/takeover", {}).status == 404
    assert store.tickets.open_for(nobody) is None


def test_a_whisper_reaches_the_agent_and_agents_may_not_watch(
    tabs: Tabs, stack: ServedStack, desk: HandoffStore
) -> None:
    store = desk
    store.roster.heartbeat(AGENT.username, Presence.ONLINE)
    user = RestUser(stack.http, f"live-hostile-{time.time_ns()}")
    user.say(HOSTILE)
    user.say("转人工")
    ticket = open_ticket_of(store, user.sender, AGENT.username)

    live = tabs.live(SUPERVISOR)
    row = row_of(live, user.sender)
    expect(row.get_by_test_id("live-ticket")).to_contain_text(f"人工接待中 · {AGENT.username}")
    row.click()
    expect(live.get_by_test_id("takeover-button")).to_be_hidden()
    expect(live.get_by_test_id("live-message").filter(has_text=HOSTILE)).to_have_count(1)
    whisper = f"悄悄话 {HOSTILE} 这位用户先核实身份"
    live.get_by_test_id("whisper-input").fill(whisper)
    live.get_by_test_id("whisper-send").click()
    expect(live.get_by_test_id("whisper").filter(has_text=whisper)).to_have_count(1)
    assert live.locator("#pwned").count() == 0
    assert live.locator("img").count() == 0
    screenshot(live, "whisper")

    # Unanswered for 40 minutes: past the first-response target, highlighted in the view.
    opened = datetime.now(timezone.utc) - timedelta(minutes=40)
    with sqlite3.connect(stack.workdir / "handoff.db") as db:
        db.execute(
            "UPDATE handoff_tickets SET created_at = ? WHERE ticket_id = ?",
            (opened.strftime("%Y-%m-%d %H:%M:%S.%f"), ticket.ticket_id),
        )
    late = row.get_by_test_id("sla-badge")
    expect(late).to_have_text("已超时", timeout=WAIT_MS)
    expect(row).to_have_attribute("data-sla", "breached")
    expect(row.get_by_test_id("live-waiting")).to_contain_text("40 分")
    screenshot(live, "sla")

    # The agent reads the whisper on the ticket; the user never sees it.
    agent = AgentConsole(stack.http, AGENT)
    notes = agent.get(f"/tickets/{ticket.ticket_id}")["notes"]
    assert [(n["author"], n["text"]) for n in notes] == [(SUPERVISOR.username, whisper)]
    assert all("悄悄话" not in text for text in user.say("好的"))

    # Agents may not watch: 403 from every live call, and the page says who may.
    for method, path in (
        ("GET", "/live"),
        ("GET", f"/live/{user.sender}"),
        ("POST", f"/live/{user.sender}/takeover"),
    ):
        assert agent.call(method, path).status == 403
        assert stack.http.request(method, f"{CONSOLE_API}{path}").status == 401
    assert store.tickets.open_for(user.sender) == store.tickets.get(ticket.ticket_id)
    agent_tab = tabs.live(AGENT)
    expect(agent_tab.get_by_test_id("live-denied")).to_be_visible()
    expect(agent_tab.get_by_test_id("live-row")).to_have_count(0)
    screenshot(agent_tab, "denied")


def test_the_live_page_has_no_inline_script_or_style(stack: ServedStack) -> None:
    answer = stack.http.get("/webhooks/agent/live")
    assert answer.status == 200, answer
    html = answer.text
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script src="static/common.js">',
        '<script src="static/agent_live.js">',
    ]
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for asset, kind in (("agent_live.js", "text/javascript"), ("agent_live.css", "text/css")):
        served = stack.http.get(f"/webhooks/agent/static/{asset}")
        assert served.status == 200 and served.content_type.startswith(kind)
