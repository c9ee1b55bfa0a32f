"""The agent desk in headless Chromium against the served stack: the full day of an agent, text
that agents and users write shown as text, and an admin's agent management.

The full day: an agent of 综合 goes online; a widget user asks for a human and the desk assigns
the ticket to the agent without a claim; the agent inserts a team canned reply with ``/``, filled
in for the ticket, and sends it; writes an internal note, which reaches neither the user's widget
nor the stored conversation; transfers the ticket to 安全组 with a note; the 安全组 agent gets it
automatically, reads the note and closes it, and the user is asked for a rating.

The stack is shared: each test empties the queue first, the desk's other agents are put offline
(so the dispatcher gives the tickets to this module's agents), and this module's agents are
deleted at the end, so no later test's ticket is assigned to them.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright import sync_api

from bot.handoff.records import Presence, Role, State, Team, Ticket
from bot.handoff.store import HandoffStore
from bot.privacy import mask_account_id
from scripts.local_stack import widget_token
from tests.browser import SCREENSHOTS, chromium
from tests.support.http import Login, RestUser
from tests.support.stack import ServedStack, empty_queue

WAIT_MS = 15_000
GENERAL = Login("desk-wang", "王小二", "a-long-general-password")
SECURITY = Login("desk-zhao", "赵安全", "a-long-security-password")
ADMIN = Login("desk-admin", "钱管理", "a-long-admin-password")
NEWCOMER = Login("desk-new", '新同事<b id="pwned">', "a-long-newcomer-password")
HOSTILE = '<b id="pwned">x</b><img src=x onerror=alert(1)>'
HOSTILE_TAG = "<img src=x onerror=alert(1)>"

expect = sync_api.expect


def screenshot(page: Any, step: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"agent_desk_{step}.png"))


@pytest.fixture
def stack(served: ServedStack) -> ServedStack:
    empty_queue(served)
    return served


@pytest.fixture
def store(stack: ServedStack) -> HandoffStore:
    return HandoffStore.from_url(stack.handoff_url)


@pytest.fixture
def desk(stack: ServedStack, store: HandoffStore) -> Iterator[HandoffStore]:
    """This module's agents (an agent of 综合, one of 安全组, an admin), the only ones online
    while the test runs; deleted afterwards with their tickets closed and their replies gone."""
    for profile in store.roster.profiles():
        if profile.presence is not Presence.OFFLINE:
            store.roster.heartbeat(profile.username, Presence.OFFLINE)
    store.agents.add(GENERAL.username, GENERAL.name, GENERAL.password, Role.AGENT, (Team.GENERAL,))
    store.agents.add(
        SECURITY.username, SECURITY.name, SECURITY.password, Role.AGENT, (Team.SECURITY,)
    )
    store.agents.add(ADMIN.username, ADMIN.name, ADMIN.password, Role.ADMIN, tuple(Team))
    try:
        yield store
    finally:
        names = [GENERAL.username, SECURITY.username, ADMIN.username, NEWCOMER.username]
        for name in names:
            store.roster.heartbeat(name, Presence.OFFLINE)
        empty_queue(stack)
        for name in names:
            for reply in store.canned.visible_to(name, tuple(Team)):
                if reply.updated_by in names or reply.owner in names:
                    store.canned.delete(reply.reply_id, name, reply.revision)
            store.agents.delete(name)


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
        tab.on("pageerror", self._failed)
        tab.on("console", self._logged)
        tab.on("dialog", self._dialog)
        self.opened.append(tab)
        tab.goto(f"{self.base_url}{path}")
        return tab

    def _failed(self, error: Any) -> None:
        self.problems.append(f"script: {error}")

    def _logged(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")  # an alert() means injected script
        dialog.dismiss()

    def console(self, login: Login, presence: str | None = None) -> Any:
        """A console tab logged in as ``login`` (set to ``presence`` when given)."""
        tab = self.open("/webhooks/agent/console")
        log_in(tab, login)
        expect(tab.get_by_test_id("console-view")).to_be_visible()
        expect(tab.get_by_test_id("agent-name")).to_have_text(login.username)
        if presence is not None:
            tab.get_by_test_id("presence-select").select_option(presence)
            expect(tab.get_by_test_id("presence-select")).to_have_attribute(
                "data-presence", presence
            )
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


def log_in(page: Any, login: Login, password: str | None = None) -> None:
    page.get_by_test_id("login-username").fill(login.username)
    page.get_by_test_id("login-password").fill(password or login.password)
    page.get_by_test_id("login-submit").click()


def my_ticket(page: Any, ticket_id: int) -> Any:
    return page.locator(f'[data-testid="my-ticket"][data-ticket-id="{ticket_id}"]')


def open_mine(page: Any, ticket_id: int) -> None:
    """Opens the ticket the desk assigned to the page's agent, from 我的工单."""
    item = my_ticket(page, ticket_id)
    expect(item).to_be_visible(timeout=WAIT_MS)
    item.click()
    detail = page.get_by_test_id("ticket-detail")
    expect(detail).to_have_attribute("data-ticket-id", str(ticket_id))
    expect(detail).to_have_attribute("data-state", "assigned")
    expect(page.get_by_test_id("claim-button")).to_be_hidden()


def insert_canned(page: Any, typed: str, reply_id: int, step: str | None = None) -> None:
    """Types ``typed`` ("/…") in the reply box and picks the reply from the list (screenshot
    of the list as ``step``)."""
    box = page.get_by_test_id("reply-input")
    box.click()
    box.press_sequentially(typed, delay=20)
    option = page.locator(f'[data-testid="canned-option"][data-reply-id="{reply_id}"]')
    expect(page.get_by_test_id("canned-popup")).to_be_visible()
    expect(option).to_be_visible()
    if step:
        screenshot(page, step)
    option.click()
    expect(page.get_by_test_id("canned-popup")).to_be_hidden()


def open_ticket_of(store: HandoffStore, match: Any) -> Ticket:
    """The open ticket ``match`` picks, once the assistant has opened it."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        found = [ticket for ticket in store.tickets.queue() if match(ticket)]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("no ticket was opened")


def stored_events_holding(stack: ServedStack, text: str) -> int:
    """How many events of the tracker store (every conversation) hold ``text``."""
    with sqlite3.connect(stack.workdir / "tracker.db") as connection:
        row = connection.execute(
            "SELECT count(*) FROM events WHERE data LIKE ?", (f"%{text}%",)
        ).fetchone()
    return int(row[0])


def test_the_full_day_of_an_agent(tabs: Tabs, stack: ServedStack, desk: HandoffStore) -> None:
    store = desk
    marker = f"NOTE{time.time_ns()}"
    greeting = store.canned.create(
        ADMIN.username,
        "desk-greet",
        "您好，您的工单 {ticket_number} 已由人工客服接手，账户 {masked_account} 的问题我们正在处理。",
        Team.GENERAL,
    )

    # Morning: the 综合 agent logs in and goes online; the 安全组 colleague too.
    wang = tabs.console(GENERAL)
    expect(wang.get_by_test_id("me-role")).to_have_text("客服")
    expect(wang.get_by_test_id("me-teams")).to_have_text("综合")
    expect(wang.get_by_test_id("me-load")).to_have_text("0 / 3")
    expect(wang.get_by_test_id("presence-select")).to_have_attribute("data-presence", "offline")
    wang.get_by_test_id("presence-select").select_option("online")
    expect(wang.get_by_test_id("presence-select")).to_have_attribute("data-presence", "online")
    online = store.roster.profile(GENERAL.username)
    assert online is not None and online.presence is Presence.ONLINE
    expect(wang.get_by_test_id("admin-link")).to_be_hidden()  # agents manage no one
    screenshot(wang, "online")
    zhao = tabs.console(SECURITY, presence="online")

    # A widget user asks for a human: the desk gives the ticket to the agent, no claim.
    account = f"zq7-desk-{time.time_ns()}"
    widget = tabs.open(f"/webhooks/widget/chat#token={widget_token(account)}")
    widget.set_viewport_size({"width": 390, "height": 844})
    expect(widget.get_by_test_id("status")).to_have_text("在线")
    widget.get_by_test_id("input").fill("转人工")
    widget.get_by_test_id("send").click()
    masked = mask_account_id(account)
    ticket = open_ticket_of(store, lambda t: t.summary.account == masked)
    assert ticket.team is Team.GENERAL
    open_mine(wang, ticket.ticket_id)
    assigned = store.tickets.get(ticket.ticket_id)
    assert assigned is not None and assigned.agent == GENERAL.username
    user_sees = widget.get_by_test_id("log")
    expect(user_sees).to_contain_text(f"人工客服 {GENERAL.name} 已接入")
    expect(wang.get_by_test_id("me-load")).to_have_text("1 / 3", timeout=WAIT_MS)
    screenshot(wang, "assigned")

    # A team canned reply through "/", filled in for the ticket, inserted unsent, then sent.
    insert_canned(wang, "/desk-gr", greeting.reply_id, step="canned_list")
    filled = (
        f"您好，您的工单 #{ticket.ticket_id} 已由人工客服接手，账户 {masked} 的问题我们正在处理。"
    )
    expect(wang.get_by_test_id("reply-input")).to_have_value(filled)
    expect(wang.get_by_test_id("canned-missing")).to_be_hidden()
    expect(widget.get_by_test_id("typing")).to_be_visible()  # the agent is typing
    screenshot(wang, "canned_reply")
    assert filled not in user_sees.inner_text(), "a canned reply went out before it was sent"
    wang.get_by_test_id("reply-send").click()
    expect(user_sees).to_contain_text(filled)
    agent_lines = wang.locator('[data-testid="message"][data-role="agent"]')
    expect(agent_lines.filter(has_text=filled)).to_have_count(1)
    expect(wang.get_by_test_id("reply-input")).to_have_value("")

    # The user types: the agent sees it; then the user writes.
    order = f"ORDER{time.time_ns()}"
    widget.get_by_test_id("input").fill(f"好的，订单号 {order}，我等你们消息")
    expect(wang.get_by_test_id("user-typing")).to_be_visible(timeout=WAIT_MS)
    widget.get_by_test_id("send").click()
    user_lines = wang.locator('[data-testid="message"][data-role="user"]')
    expect(user_lines.filter(has_text=order)).to_have_count(1)

    # An internal note: on the ticket for agents, nowhere the user looks.
    note = f"内部备注 {marker}：用户语气着急，可能涉及账户安全"
    wang.get_by_test_id("note-input").fill(note)
    wang.get_by_test_id("note-add").click()
    notes = wang.get_by_test_id("note")
    expect(notes.filter(has_text=note)).to_have_count(1)
    expect(wang.get_by_test_id("notes-box")).to_contain_text("仅内部可见")
    screenshot(wang, "internal_note")

    # Transfer to 安全组 with a note: the 安全组 agent gets it without a claim.
    transfer_note = f"转安全组 {marker}：请核实是否被盗"
    wang.get_by_test_id("transfer-button").click()
    dialog = wang.get_by_test_id("transfer-dialog")
    expect(dialog).to_be_visible()
    wang.get_by_test_id("transfer-kind-team").check()
    wang.get_by_test_id("transfer-team").select_option("security")
    wang.get_by_test_id("transfer-note").fill(transfer_note)
    screenshot(wang, "transfer_dialog")
    wang.get_by_test_id("transfer-submit").click()
    expect(dialog).to_be_hidden()
    expect(my_ticket(wang, ticket.ticket_id)).to_have_count(0, timeout=WAIT_MS)
    expect(wang.get_by_test_id("transfer-button")).to_be_hidden()

    open_mine(zhao, ticket.ticket_id)
    expect(zhao.get_by_test_id("detail-team")).to_have_text("安全组")
    received = zhao.get_by_test_id("note")
    transfer = received.filter(has_text=transfer_note)
    expect(transfer).to_have_count(1)
    expect(transfer).to_have_attribute("data-kind", "transfer")
    expect(transfer.get_by_test_id("note-head")).to_contain_text("转接给 安全组")
    expect(received.filter(has_text=note)).to_have_count(1)
    expect(user_sees).to_contain_text("转接给更合适的同事")
    expect(user_sees).to_contain_text(f"人工客服 {SECURITY.name} 已接入")
    screenshot(zhao, "transferred")

    # The 安全组 agent closes it; the user is asked for a rating.
    zhao.get_by_test_id("close-note").fill("已核实，非被盗，已告知用户")
    zhao.get_by_test_id("close-button").click()
    expect(zhao.get_by_test_id("ticket-detail")).to_have_attribute("data-state", "closed")
    expect(user_sees).to_contain_text("打个分")
    closed = store.tickets.get(ticket.ticket_id)
    assert closed is not None and closed.state is State.CLOSED
    assert closed.agent == SECURITY.username
    screenshot(widget, "user_widget")

    # The notes reached nothing the user sees: the widget, its history, the stored conversation.
    assert marker not in user_sees.inner_text()
    widget.reload()
    expect(widget.get_by_test_id("user-message").filter(has_text="转人工")).to_have_count(1)
    expect(user_sees).to_contain_text(filled)
    assert marker not in user_sees.inner_text()
    assert stored_events_holding(stack, marker) == 0
    assert stored_events_holding(stack, order) > 0  # the check sees what the user wrote
    assert marker not in wang.get_by_test_id("transcript").inner_text()

    # Later the first agent finds the ticket by its number.
    wang.get_by_test_id("search-input").fill(f"#{ticket.ticket_id}")
    wang.get_by_test_id("search-submit").click()
    hit = wang.locator(f'[data-testid="search-result"][data-ticket-id="{ticket.ticket_id}"]')
    expect(hit).to_have_count(1)
    expect(hit.get_by_test_id("search-result-team")).to_have_text("安全组")
    expect(hit.get_by_test_id("search-result-state")).to_have_text("已结束")
    expect(hit.get_by_test_id("search-result-agent")).to_contain_text(SECURITY.username)
    screenshot(wang, "search")
    hit.click()
    expect(wang.get_by_test_id("search-panel")).to_be_hidden()
    expect(wang.get_by_test_id("ticket-detail")).to_have_attribute(
        "data-ticket-id", str(ticket.ticket_id)
    )
    expect(wang.get_by_test_id("close-note-text")).to_have_text("已核实，非被盗，已告知用户")


def test_html_in_notes_tags_and_canned_replies_stays_text(
    tabs: Tabs, stack: ServedStack, desk: HandoffStore
) -> None:
    store = desk
    wang = tabs.console(GENERAL, presence="online")
    user = RestUser(stack.http, f"desk-hostile-{time.time_ns()}")
    user.say("转人工")
    ticket = open_ticket_of(store, lambda t: t.conversation_id == user.sender)
    open_mine(wang, ticket.ticket_id)

    wang.get_by_test_id("note-input").fill(HOSTILE)
    wang.get_by_test_id("note-add").click()
    expect(wang.get_by_test_id("note-text").filter(has_text=HOSTILE)).to_have_count(1)

    wang.get_by_test_id("tag-input").fill(HOSTILE_TAG)
    wang.get_by_test_id("tag-add").click()
    expect(wang.get_by_test_id("tag-text")).to_have_text([HOSTILE_TAG])
    expect(
        wang.locator(
            f'[data-testid="my-ticket"][data-ticket-id="{ticket.ticket_id}"]'
        ).get_by_test_id("queue-item-tag")
    ).to_have_text([HOSTILE_TAG], timeout=WAIT_MS)
    assert store.notes.tags(ticket.ticket_id) == [HOSTILE_TAG]

    # A personal canned reply, written in the manager, inserted through "/".
    wang.get_by_test_id("canned-manage").click()
    expect(wang.get_by_test_id("canned-dialog")).to_be_visible()
    wang.get_by_test_id("canned-shortcut").fill("desk-hostile")
    wang.get_by_test_id("canned-text").fill(HOSTILE + " 账户 {masked_account}")
    wang.get_by_test_id("canned-save").click()
    row = wang.locator('[data-testid="canned-row"][data-shortcut="desk-hostile"]')
    expect(row.get_by_test_id("canned-row-text")).to_have_text(HOSTILE + " 账户 {masked_account}")
    wang.get_by_test_id("canned-close").click()
    reply_id = int(row.get_attribute("data-reply-id") or 0)
    insert_canned(wang, "/desk-host", reply_id)
    # A REST user has no account: the variable stays as written, and the agent is told.
    expect(wang.get_by_test_id("reply-input")).to_have_value(HOSTILE + " 账户 {masked_account}")
    missing = wang.get_by_test_id("canned-missing")
    expect(missing).to_be_visible()
    expect(missing).to_contain_text("{masked_account}")
    screenshot(wang, "hostile_text")

    assert wang.locator("#pwned").count() == 0
    assert wang.locator("img").count() == 0
    assert wang.evaluate("typeof window.pwned") == "undefined"

    # Someone else edits the reply while the agent has it open: the save is refused, clearly.
    wang.get_by_test_id("canned-manage").click()
    row.get_by_test_id("canned-edit").click()
    current = store.canned.get(reply_id)
    assert current is not None
    store.canned.update(reply_id, GENERAL.username, "desk-hostile", "别处改过的内容", 1)
    wang.get_by_test_id("canned-text").fill("我的修改")
    wang.get_by_test_id("canned-save").click()
    expect(wang.get_by_test_id("canned-notice")).to_contain_text(
        "这条快捷回复已被他人修改，请刷新后再编辑"
    )
    expect(row.get_by_test_id("canned-row-text")).to_have_text("别处改过的内容")
    kept = store.canned.get(reply_id)
    assert kept is not None and kept.text == "别处改过的内容"
    screenshot(wang, "canned_conflict")
    delete = row.get_by_test_id("canned-delete")
    delete.click()
    expect(delete).to_have_text("确认删除")
    delete.click()
    expect(row).to_have_count(0)
    assert store.canned.get(reply_id) is None
    wang.get_by_test_id("canned-close").click()

    # A transfer to a colleague by name (the list says who is online), with the same note.
    wang.get_by_test_id("transfer-button").click()
    wang.get_by_test_id("transfer-kind-agent").check()
    colleague = wang.locator(f'[data-testid="transfer-agent"] option[value="{SECURITY.username}"]')
    expect(colleague).to_contain_text("离线")
    wang.get_by_test_id("transfer-agent").select_option(SECURITY.username)
    wang.get_by_test_id("transfer-note").fill(HOSTILE)
    wang.get_by_test_id("transfer-submit").click()
    expect(wang.get_by_test_id("transfer-dialog")).to_be_hidden()
    expect(wang.get_by_test_id("summary-agent")).to_have_text(SECURITY.username)
    handed = wang.locator('[data-testid="note"][data-kind="transfer"]')
    expect(handed.get_by_test_id("note-head")).to_contain_text(f"转接给 客服 {SECURITY.username}")
    expect(handed.get_by_test_id("note-text")).to_have_text(HOSTILE)
    moved = store.tickets.get(ticket.ticket_id)
    assert moved is not None and moved.agent == SECURITY.username
    assert wang.locator("#pwned").count() == 0
    assert wang.locator("img").count() == 0


def test_an_admin_manages_agents_and_a_disabled_agents_page_drops_to_login(
    tabs: Tabs, desk: HandoffStore
) -> None:
    store = desk
    # Only admins manage agents: an agent opening the page is told so.
    agent_tab = tabs.open("/webhooks/agent/admin")
    log_in(agent_tab, GENERAL)
    expect(agent_tab.get_by_test_id("admin-denied")).to_be_visible()
    expect(agent_tab.get_by_test_id("agent-row")).to_have_count(0)

    admin = tabs.console(ADMIN)
    for link in ("admin-link", "dashboard-link", "review-link", "kb-link"):
        expect(admin.get_by_test_id(link)).to_be_visible()
    admin.get_by_test_id("admin-link").click()
    expect(admin.get_by_test_id("admin-view")).to_be_visible()
    wang_row = admin.locator(f'[data-testid="agent-row"][data-username="{GENERAL.username}"]')
    expect(wang_row.get_by_test_id("agent-teams")).to_have_text("综合")
    expect(wang_row.get_by_test_id("agent-role")).to_have_text("客服")

    # A new agent of 安全组 with a capacity of 2.
    admin.get_by_test_id("create-username").fill(NEWCOMER.username)
    admin.get_by_test_id("create-display").fill(NEWCOMER.name)
    admin.get_by_test_id("create-password").fill(NEWCOMER.password)
    admin.get_by_test_id("create-role").select_option("agent")
    admin.get_by_test_id("create-team-general").uncheck()
    admin.get_by_test_id("create-team-security").check()
    admin.get_by_test_id("create-capacity").fill("2")
    admin.get_by_test_id("create-submit").click()
    new_row = admin.locator(f'[data-testid="agent-row"][data-username="{NEWCOMER.username}"]')
    expect(new_row.get_by_test_id("agent-display")).to_have_text(NEWCOMER.name)
    expect(new_row.get_by_test_id("agent-teams")).to_have_text("安全组")
    expect(new_row.get_by_test_id("agent-load")).to_have_text("0 / 2")
    expect(new_row.get_by_test_id("agent-presence")).to_have_text("离线")
    assert admin.locator("#pwned").count() == 0

    # The newcomer logs in and goes online; the admin sees it.
    newcomer = tabs.console(NEWCOMER, presence="online")
    expect(newcomer.get_by_test_id("me-teams")).to_have_text("安全组")
    expect(newcomer.get_by_test_id("admin-link")).to_be_hidden()
    admin.get_by_test_id("refresh").click()
    expect(new_row.get_by_test_id("agent-presence")).to_have_text("在线")

    # Teams and capacity change.
    new_row.get_by_test_id("agent-edit").click()
    expect(admin.get_by_test_id("edit-form")).to_be_visible()
    admin.get_by_test_id("edit-team-general").check()
    admin.get_by_test_id("edit-capacity").fill("4")
    admin.get_by_test_id("edit-save").click()
    expect(new_row.get_by_test_id("agent-teams")).to_have_text("综合、安全组")
    expect(new_row.get_by_test_id("agent-load")).to_have_text("0 / 4")
    changed = store.roster.profile(NEWCOMER.username)
    assert changed is not None and changed.capacity == 4
    assert changed.teams == (Team.GENERAL, Team.SECURITY)
    screenshot(admin, "admin")

    # Disabled: the newcomer's open console drops to the login form at its next call.
    new_row.get_by_test_id("agent-edit").click()
    admin.get_by_test_id("disable-button").click()
    expect(admin.get_by_test_id("disable-button")).to_have_text("确认停用")
    admin.get_by_test_id("disable-button").click()
    expect(new_row.get_by_test_id("agent-presence")).to_have_text("已停用")
    expect(newcomer.get_by_test_id("login-view")).to_be_visible(timeout=WAIT_MS)
    expect(newcomer.get_by_test_id("login-error")).to_contain_text("重新登录")
    expect(newcomer.get_by_test_id("console-view")).to_be_hidden()
    screenshot(newcomer, "disabled_agent")
    log_in(newcomer, NEWCOMER)
    expect(newcomer.get_by_test_id("login-error")).to_contain_text("用户名或密码错误")

    # A password reset enables the agent again, with the new password only.
    new_row.get_by_test_id("agent-edit").click()
    admin.get_by_test_id("reset-password").fill("a-brand-new-password")
    admin.get_by_test_id("reset-submit").click()
    expect(new_row.get_by_test_id("agent-presence")).not_to_have_text("已停用")
    log_in(newcomer, NEWCOMER, password="a-brand-new-password")
    expect(newcomer.get_by_test_id("console-view")).to_be_visible()


def test_the_admin_page_has_no_inline_script_or_style(stack: ServedStack) -> None:
    answer = stack.http.get("/webhooks/agent/admin")
    assert answer.status == 200, answer
    html = answer.text
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script src="static/common.js">',
        '<script src="static/agent_admin.js">',
    ]
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for asset, kind in (("agent_admin.js", "text/javascript"), ("agent_admin.css", "text/css")):
        served = stack.http.get(f"/webhooks/agent/static/{asset}")
        assert served.status == 200 and served.content_type.startswith(kind)
