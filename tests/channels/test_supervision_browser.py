"""Supervision in headless Chromium against the served stack (issue 19): the account panel,
refusals of what an agent may not see, the outbound guard and SLA breaches, as agents,
supervisors and admins see them in the console, the dashboard and the admin page.

- The panel of a widget user's ticket is masked; 显示 asks for a reason (refused without one),
  shows the value, and the admin's 审计日志 tab (and its CSV export) holds the reveal and its
  reason.
- An agent cannot open another agent's ticket, its panel or the dashboard: the pages say so and
  the API answers 403.
- The outbound guard stops 「请把助记词发给我核实」 and an address from nowhere (the reason shown,
  the text kept, nothing reaching the user), lets the user's own address through, and sends the
  address once a supervisor has approved it.
- A ticket past its first-response target is red (已超时) in the queue and in 我的工单, one near
  it amber with the time left.

The stack is shared: each test empties the queue first, the desk's other agents are put offline
(so the dispatcher gives tickets to this module's agents only), and this module's agents are
deleted at the end.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright import sync_api

from bot.handoff.records import Presence, Reason, Role, State, Summary, Team, Ticket, Urgency
from bot.handoff.store import HandoffStore
from bot.handoff.tables import tickets as ticket_table
from bot.handoff.tables import utc_now
from bot.privacy import mask_account_id, mask_phone
from bot.wallet.demo_data import ALICE
from scripts.local_stack import widget_token
from tests.browser import SCREENSHOTS, chromium
from tests.support.http import AgentConsole, Login, RestUser
from tests.support.stack import ServedStack, empty_queue

WAIT_MS = 15_000
WU = Login("sup-wu", "吴客服", "a-long-wu-password")  # an agent of 综合
ZHENG = Login("sup-zheng", "郑客服", "a-long-zheng-password")  # an agent of 安全组
SUN = Login("sup-sun", "孙主管", "a-long-sun-password")  # a supervisor
ZHOU = Login("sup-zhou", "周管理", "a-long-zhou-password")  # an admin
ALICE_PHONE = "13812345678"
ASKS_MNEMONIC = "请把助记词发给我核实"
HOSTILE_URL = "https://evil.example/<img src=x onerror=alert(1)>"

expect = sync_api.expect


def screenshot(page: Any, step: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"supervision_{step}.png"))


@pytest.fixture
def stack(served: ServedStack) -> ServedStack:
    empty_queue(served)
    return served


@pytest.fixture
def desk(stack: ServedStack) -> Iterator[HandoffStore]:
    """This module's agents, the only ones online while a test runs; deleted afterwards with
    their tickets closed."""
    store = HandoffStore.from_url(stack.handoff_url)
    for profile in store.roster.profiles():
        if profile.presence is not Presence.OFFLINE:
            store.roster.heartbeat(profile.username, Presence.OFFLINE)
    store.agents.add(WU.username, WU.name, WU.password, Role.AGENT, (Team.GENERAL,))
    store.agents.add(ZHENG.username, ZHENG.name, ZHENG.password, Role.AGENT, (Team.SECURITY,))
    store.agents.add(SUN.username, SUN.name, SUN.password, Role.SUPERVISOR, tuple(Team))
    store.agents.add(ZHOU.username, ZHOU.name, ZHOU.password, Role.ADMIN, tuple(Team))
    names = [WU.username, ZHENG.username, SUN.username, ZHOU.username]
    try:
        yield store
    finally:
        for name in names:
            store.roster.heartbeat(name, Presence.OFFLINE)
        empty_queue(stack)
        for name in names:
            store.agents.delete(name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(1280, 800) as context:
        yield context


class Tabs:
    """The test's tabs, each failing the test if its script fails, breaks the page's CSP or
    raises a dialog (an alert() would be injected script)."""

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
        self.problems.append(f"dialog: {dialog.message}")
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

    def go(self, tab: Any, path: str) -> None:
        """``tab`` to another page of the console's (the tab keeps its session)."""
        tab.goto(f"{self.base_url}{path}")


@pytest.fixture
def tabs(browser: Any, stack: ServedStack) -> Iterator[Tabs]:
    opened = Tabs(browser, stack.base_url)
    try:
        yield opened
    finally:
        for tab in opened.opened:
            tab.close()
    assert opened.problems == [], "a page's script failed, broke its CSP or raised a dialog"


def log_in(page: Any, login: Login) -> None:
    page.get_by_test_id("login-username").fill(login.username)
    page.get_by_test_id("login-password").fill(login.password)
    page.get_by_test_id("login-submit").click()


def open_ticket_of(store: HandoffStore, match: Any) -> Ticket:
    """The open ticket ``match`` picks, once the assistant has opened it."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        found = [ticket for ticket in store.tickets.queue() if match(ticket)]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("no ticket was opened")


def assigned_to(store: HandoffStore, ticket_id: int, agent: str) -> Ticket:
    """The ticket once the desk has assigned it to ``agent``."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        found = store.tickets.get(ticket_id)
        if found is not None and found.state is State.ASSIGNED and found.agent == agent:
            return found
        time.sleep(0.2)
    raise AssertionError(f"ticket {ticket_id} was not assigned to {agent}")


def open_mine(page: Any, ticket_id: int) -> None:
    """Opens the ticket the desk assigned to the page's agent, from 我的工单."""
    item = page.locator(f'[data-testid="my-ticket"][data-ticket-id="{ticket_id}"]')
    expect(item).to_be_visible(timeout=WAIT_MS)
    item.click()
    detail = page.get_by_test_id("ticket-detail")
    expect(detail).to_have_attribute("data-ticket-id", str(ticket_id))
    expect(detail).to_have_attribute("data-state", "assigned")


def stored_events_holding(stack: ServedStack, text: str) -> int:
    """How many events of the tracker store (every conversation) hold ``text``."""
    with sqlite3.connect(stack.workdir / "tracker.db") as connection:
        row = connection.execute(
            "SELECT count(*) FROM events WHERE data LIKE ?", (f"%{text}%",)
        ).fetchone()
    return int(row[0])


def opened_ago(store: HandoffStore, ticket_id: int, age: timedelta) -> None:
    """Moves the ticket's opening back by ``age`` (the served stack's SLA targets are fixed)."""
    with store.engine.begin() as connection:
        connection.execute(
            sa.update(ticket_table)
            .where(ticket_table.c.ticket_id == ticket_id)
            .values(created_at=utc_now() - age)
        )


def test_the_panel_is_masked_and_a_reveal_with_its_reason_is_in_the_audit_log(
    tabs: Tabs, stack: ServedStack, desk: HandoffStore
) -> None:
    store = desk
    marker = f"R{time.time_ns()}"
    wu = tabs.console(WU, presence="online")

    # demo-alice asks for a human in the widget: the desk gives the ticket to 吴客服.
    widget = tabs.open(f"/webhooks/widget/chat#token={widget_token(ALICE)}")
    expect(widget.get_by_test_id("status")).to_have_text("在线")
    widget.get_by_test_id("input").fill("转人工")
    widget.get_by_test_id("send").click()
    ticket = open_ticket_of(store, lambda t: t.summary.account == mask_account_id(ALICE))
    assigned_to(store, ticket.ticket_id, WU.username)
    open_mine(wu, ticket.ticket_id)

    # Masked: 2FA, the new device and the transfers' states, but no whole identifier.
    panel = wu.get_by_test_id("account-panel")
    expect(panel).to_have_attribute("data-loaded", "ok")
    phone = panel.locator('[data-testid="panel-value"][data-field="phone"]')
    expect(phone).to_have_text(mask_phone(ALICE_PHONE))
    expect(panel.get_by_test_id("panel-two-factor")).to_have_text("未开启")
    expect(panel.get_by_test_id("panel-device").filter(has_text="新设备")).not_to_have_count(0)
    transfers = panel.get_by_test_id("panel-transfer")
    expect(transfers.first).to_be_visible()
    expect(
        panel.get_by_test_id("panel-transfer-status").filter(has_text="待确认")
    ).not_to_have_count(0)
    expect(panel.get_by_test_id("explorer-link")).to_have_count(0)  # links hold whole hashes
    shown = panel.inner_text()
    assert ALICE_PHONE not in shown and "alice@example.com" not in shown
    assert not re.search(r"0x[0-9a-f]{64}|[0-9a-f]{64}", shown), "a whole hash is on show"
    screenshot(wu, "panel_masked")

    # 显示 without a reason: refused in the page and by the API; the value stays masked.
    panel.locator('[data-testid="reveal-button"][data-field="phone"]').click()
    dialog = wu.get_by_test_id("reveal-dialog")
    expect(dialog).to_be_visible()
    expect(wu.get_by_test_id("reveal-masked")).to_have_text(mask_phone(ALICE_PHONE))
    wu.get_by_test_id("reveal-submit").click()
    expect(wu.get_by_test_id("reveal-error")).to_contain_text("请填写查看原因")
    expect(phone).to_have_text(mask_phone(ALICE_PHONE))
    wu_api = AgentConsole(stack.http, WU)
    reveal_path = f"/tickets/{ticket.ticket_id}/account/reveal"
    for asked in ({"field": "phone"}, {"field": "phone", "reason": "  "}):
        status, answer = wu_api.post(reveal_path, asked)
        assert status == 400 and ALICE_PHONE not in str(answer)

    # With a reason: the number, whole.
    reason = f"用户要求核对绑定手机号 {marker}"
    wu.get_by_test_id("reveal-reason").fill(reason)
    wu.get_by_test_id("reveal-submit").click()
    expect(dialog).to_be_hidden()
    expect(phone).to_have_text(ALICE_PHONE)
    expect(phone).to_have_attribute("data-revealed", "true")

    # A transfer's hash, whole, with its explorer link.
    hashed = transfers.filter(has=wu.locator('[data-testid="reveal-button"][data-field="tx_hash"]'))
    ref = hashed.filter(has_text="ETH").first.get_attribute("data-ref")
    transfer = panel.locator(f'[data-testid="panel-transfer"][data-ref="{ref}"]')
    transfer.locator('[data-testid="reveal-button"][data-field="tx_hash"]').click()
    wu.get_by_test_id("reveal-reason").fill(f"核对转账状态 {marker}")
    wu.get_by_test_id("reveal-submit").click()
    expect(dialog).to_be_hidden()
    tx_hash = transfer.locator('[data-testid="panel-value"][data-field="tx_hash"]')
    expect(tx_hash).to_have_attribute("data-revealed", "true")
    expect(tx_hash).to_have_text(re.compile(r"^(0x)?[0-9a-f]{64}$"))
    whole = tx_hash.inner_text()
    link = transfer.get_by_test_id("explorer-link")
    expect(link).to_have_attribute("href", re.compile(re.escape(whole)))
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    screenshot(wu, "panel_revealed")

    # The admin reads both reveals, their reasons and the view in the audit log.
    admin = tabs.open("/webhooks/agent/admin")
    log_in(admin, ZHOU)
    expect(admin.get_by_test_id("admin-tabs")).to_be_visible()
    admin.get_by_test_id("tab-audit").click()
    expect(admin.get_by_test_id("audit-view")).to_be_visible()
    reveals = admin.locator('[data-testid="audit-row"][data-action="panel_reveal"]')
    phone_row = reveals.filter(has_text=reason)
    expect(phone_row).to_have_count(1)
    expect(phone_row.get_by_test_id("audit-actor-cell")).to_have_text(WU.username)
    expect(phone_row.get_by_test_id("audit-action")).to_have_text("显示完整信息")
    expect(phone_row.get_by_test_id("audit-target")).to_have_text(f"会话 #{ticket.ticket_id}")
    expect(phone_row.get_by_test_id("audit-detail")).to_contain_text("phone")
    hash_row = reveals.filter(has_text=f"核对转账状态 {marker}")
    expect(hash_row).to_have_count(1)
    expect(hash_row.get_by_test_id("audit-detail")).to_contain_text(str(ref))
    views = admin.locator('[data-testid="audit-row"][data-action="panel_view"]')
    expect(
        views.filter(has_text=WU.username).filter(has_text=f"会话 #{ticket.ticket_id}")
    ).not_to_have_count(0)
    logged = admin.get_by_test_id("audit-entries").inner_text()
    assert ALICE_PHONE not in logged and whole not in logged, "the log holds a revealed value"
    screenshot(admin, "audit_log")

    # By actor, and exported as CSV (the file the browser saves).
    admin.get_by_test_id("audit-actor").fill(WU.username)
    admin.get_by_test_id("audit-apply").click()
    expect(admin.get_by_test_id("audit-range")).to_contain_text(f"操作人 {WU.username}")
    actors = admin.get_by_test_id("audit-actor-cell")
    expect(actors.first).to_have_text(WU.username)
    assert set(actors.all_inner_texts()) == {WU.username}
    with admin.expect_download() as download:
        admin.get_by_test_id("audit-export").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert saved.splitlines()[0] == "entry_id,at,actor,action,target,detail"
    assert reason in saved and f"ticket:{ticket.ticket_id}" in saved
    assert all(f",{WU.username}," in line for line in saved.splitlines()[1:] if line)
    assert ALICE_PHONE not in saved


def test_an_agent_cannot_open_another_agents_ticket_its_panel_or_the_dashboard(
    tabs: Tabs, stack: ServedStack, desk: HandoffStore
) -> None:
    store = desk
    marker = f"ORDER{time.time_ns()}"
    wu = tabs.console(WU, presence="online")
    user = RestUser(stack.http, f"supervision-refused-{time.time_ns()}")
    user.say(f"订单 {marker} 转账一直没到账")
    user.say("转人工")
    ticket = open_ticket_of(store, lambda t: t.conversation_id == user.sender)
    assigned_to(store, ticket.ticket_id, WU.username)
    open_mine(wu, ticket.ticket_id)
    # The ticket's own agent sees the panel's section: a REST user has no account to show.
    expect(wu.get_by_test_id("account-status")).to_contain_text("未验证身份")

    # 郑客服 (安全组) opens it by its link: refused, nothing of the conversation shown.
    zheng = tabs.console(ZHENG)
    expect(zheng.get_by_test_id("dashboard-link")).to_be_hidden()
    tabs.go(zheng, f"/webhooks/agent/console#ticket={ticket.ticket_id}")
    denied = zheng.get_by_test_id("detail-denied")
    expect(denied).to_be_visible()
    expect(denied).to_contain_text("这是其他客服的会话，您无权查看")
    expect(zheng.get_by_test_id("ticket-detail")).to_be_hidden()
    expect(zheng.get_by_test_id("message")).to_have_count(0)
    assert marker not in zheng.get_by_test_id("detail-panel").inner_text()
    screenshot(zheng, "ticket_refused")

    # The API refuses the ticket, its panel, a reveal and the figures alike.
    zheng_api = AgentConsole(stack.http, ZHENG)
    ticket_path = f"/tickets/{ticket.ticket_id}"
    assert zheng_api.call("GET", ticket_path).status == 403
    assert zheng_api.call("GET", f"{ticket_path}/account").status == 403
    status, _ = zheng_api.post(
        f"{ticket_path}/account/reveal", {"field": "phone", "reason": "只是好奇看看"}
    )
    assert status == 403
    assert zheng_api.call("GET", "/insight").status == 403

    # The dashboard says who may see it.
    tabs.go(zheng, "/webhooks/agent/dashboard")
    refusal = zheng.get_by_test_id("dashboard-denied")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("仅主管和管理员可以查看数据看板")
    expect(zheng.get_by_test_id("dashboard-view")).to_be_hidden()
    expect(zheng.get_by_test_id("kpis")).to_be_hidden()
    screenshot(zheng, "dashboard_refused")

    # A supervisor opens the same link: the conversation, and the dashboard.
    sun = tabs.console(SUN)
    tabs.go(sun, f"/webhooks/agent/console#ticket={ticket.ticket_id}")
    expect(sun.get_by_test_id("ticket-detail")).to_have_attribute(
        "data-ticket-id", str(ticket.ticket_id)
    )
    expect(sun.get_by_test_id("message").filter(has_text=marker)).to_have_count(1)
    expect(sun.get_by_test_id("detail-denied")).to_be_hidden()
    tabs.go(sun, "/webhooks/agent/dashboard")
    expect(sun.get_by_test_id("dashboard-view")).to_be_visible()
    expect(sun.get_by_test_id("dashboard-denied")).to_be_hidden()


def test_a_ticket_past_its_first_response_target_is_highlighted(
    tabs: Tabs, stack: ServedStack, desk: HandoffStore
) -> None:
    store = desk
    stamp = time.time_ns()

    def urgent(name: str, age: timedelta) -> Ticket:
        ticket = store.tickets.open(
            f"supervision-sla-{name}-{stamp}",
            "rest",
            Reason.COMPROMISED,
            Summary(),
            urgency=Urgency.URGENT,
        )
        opened_ago(store, ticket.ticket_id, age)
        return ticket

    # The urgent first-response target is 5 minutes: one past it, one at 4:10 (due soon), one new.
    late = urgent("late", timedelta(minutes=12))
    soon = urgent("soon", timedelta(minutes=4, seconds=10))
    fresh = store.tickets.open(
        f"supervision-sla-fresh-{stamp}", "rest", Reason.REQUESTED, Summary()
    )
    # 吴客服 claimed another late one and has not answered yet.
    held = urgent("held", timedelta(minutes=9))
    assert store.tickets.claim(held.ticket_id, WU.username) is not None

    wu = tabs.console(WU)

    def item(where: str, ticket: Ticket) -> Any:
        return wu.locator(f'[data-testid="{where}"][data-ticket-id="{ticket.ticket_id}"]')

    late_badge = item("queue-item", late).get_by_test_id("sla-badge")
    expect(late_badge).to_have_attribute("data-sla", "breached", timeout=WAIT_MS)
    expect(late_badge).to_have_text("已超时")
    expect(item("queue-item", late)).to_have_class(re.compile(r"\bsla-breached\b"))
    soon_badge = item("queue-item", soon).get_by_test_id("sla-badge")
    expect(soon_badge).to_have_attribute("data-sla", "due_soon")
    expect(soon_badge).to_have_text(re.compile(r"^剩余 (\d+ 分 )?\d+ 秒$"))
    expect(item("queue-item", fresh).get_by_test_id("sla-badge")).to_be_hidden()
    expect(item("queue-item", fresh)).not_to_have_attribute("data-sla", re.compile("."))
    mine = item("my-ticket", held).get_by_test_id("sla-badge")
    expect(mine).to_have_attribute("data-sla", "breached")
    expect(mine).to_have_text("已超时")
    breached_red = late_badge.evaluate("node => getComputedStyle(node).backgroundColor")
    assert breached_red == "rgb(220, 38, 38)", breached_red
    screenshot(wu, "sla_breached")

    # The ticket's own view says so too; the first reply stops the clock.
    item("my-ticket", held).click()
    expect(wu.get_by_test_id("detail-sla")).to_have_text("已超时")
    wu.get_by_test_id("reply-input").fill("您好，我们正在为您处理。")
    wu.get_by_test_id("reply-send").click()
    expect(wu.get_by_test_id("reply-input")).to_have_value("")
    expect(mine).to_be_hidden(timeout=WAIT_MS)
    expect(wu.get_by_test_id("detail-sla")).to_be_hidden()


def test_the_outbound_guard_blocks_a_secret_request_and_an_unknown_address_until_approved(
    tabs: Tabs, stack: ServedStack, desk: HandoffStore
) -> None:
    store = desk
    stamp = time.time_ns()
    own = "0x" + hashlib.sha256(f"own-{stamp}".encode()).hexdigest()[:40]
    nowhere = "0x" + hashlib.sha256(f"nowhere-{stamp}".encode()).hexdigest()[:40]
    wu = tabs.console(WU, presence="online")
    user = RestUser(stack.http, f"supervision-guard-{stamp}")
    user.say("转人工")
    ticket = open_ticket_of(store, lambda t: t.conversation_id == user.sender)
    assigned_to(store, ticket.ticket_id, WU.username)
    user.say(f"我提币到自己的地址 {own} 一直没到账")
    open_mine(wu, ticket.ticket_id)
    expect(wu.get_by_test_id("message").filter(has_text=own)).to_have_count(1)
    agent_lines = wu.locator('[data-testid="message"][data-role="agent"]')
    box = wu.get_by_test_id("reply-input")
    blocked = wu.get_by_test_id("reply-blocked")

    def send(text: str) -> None:
        box.fill(text)
        wu.get_by_test_id("reply-send").click()

    # Asking for the mnemonic: stopped, with the reason; the text stays in the box.
    asked_before = stored_events_holding(stack, ASKS_MNEMONIC)
    send(ASKS_MNEMONIC)
    expect(blocked).to_be_visible()
    reason = blocked.locator('[data-testid="blocked-reason"][data-kind="secret_request"]')
    expect(reason).to_contain_text("索要助记词/私钥/密码/验证码")
    expect(reason).to_contain_text("已拦截")
    expect(box).to_have_value(ASKS_MNEMONIC)
    screenshot(wu, "guard_secret_request")

    # An address nobody used: stopped, the supervisor named as who may let it through.
    to_nowhere = f"请先转 0.01 ETH 到 {nowhere} 验证账户"
    send(to_nowhere)
    reason = blocked.locator('[data-testid="blocked-reason"][data-kind="unknown_address"]')
    expect(reason).to_contain_text(
        f"地址 {nowhere[:6]}…{nowhere[-4:]} 未在对话、用户账户、官方渠道或帮助中心中出现过"
    )
    expect(reason).to_contain_text("可请主管核实后放行")
    expect(blocked.locator('[data-kind="secret_request"]')).to_have_count(0)
    expect(box).to_have_value(to_nowhere)
    screenshot(wu, "guard_unknown_address")
    # 请主管核实: the whole address goes to the supervisors in an internal note.
    blocked.get_by_test_id("ask-approval").click()
    expect(blocked.get_by_test_id("ask-approval")).to_have_text("已请主管核实")
    expect(wu.get_by_test_id("note-text").filter(has_text=nowhere)).to_have_count(1)

    # A link from nowhere, HTML in it shown as text.
    send(f"详情请看 {HOSTILE_URL}")
    expect(blocked.locator('[data-kind="unknown_url"]')).to_contain_text("https://evil.example/")
    assert wu.locator("#detail-panel img").count() == 0

    # Nothing of it reached the user or the stored conversation; the API says why too.
    expect(agent_lines).to_have_count(0)
    assert stored_events_holding(stack, ASKS_MNEMONIC) == asked_before
    assert stored_events_holding(stack, nowhere) == 0
    wu_api = AgentConsole(stack.http, WU)
    status, answer = wu_api.post(f"/tickets/{ticket.ticket_id}/reply", {"text": ASKS_MNEMONIC})
    assert status == 422 and answer["error"] == "reply blocked"
    assert [item["kind"] for item in answer["blocked"]] == ["secret_request"]

    # The user's own address goes through.
    send(f"收到，您的地址 {own} 我们正在核查")
    expect(agent_lines.filter(has_text=own)).to_have_count(1)
    expect(blocked).to_be_hidden()
    expect(box).to_have_value("")
    assert stored_events_holding(stack, nowhere) == 0

    # The supervisor is alerted, opens the ticket from the alert and approves the address.
    sun = tabs.console(SUN)
    expect(sun.get_by_test_id("alerts-button")).to_be_visible()
    expect(sun.get_by_test_id("alerts-count")).not_to_have_text("0", timeout=WAIT_MS)
    sun.get_by_test_id("alerts-button").click()
    alerts = sun.locator(
        f'[data-testid="alert"][data-kind="reply_blocked"][data-ticket-id="{ticket.ticket_id}"]'
    )
    expect(alerts.first).to_contain_text(WU.username)
    screenshot(sun, "guard_alerts")
    alerts.first.click()
    expect(sun.get_by_test_id("ticket-detail")).to_have_attribute(
        "data-ticket-id", str(ticket.ticket_id)
    )
    guard = sun.get_by_test_id("guard-box")
    expect(guard.get_by_test_id("guard-block").first).to_contain_text(WU.username)
    expect(guard.get_by_test_id("guard-blocks")).to_contain_text(f"地址 {nowhere[:6]}…")
    held = guard.locator(f'[data-testid="guard-item"][data-value="{nowhere}"]')
    expect(held).to_have_count(1)
    approve = held.get_by_test_id("guard-approve")
    approve.click()
    expect(approve).to_have_text("确认已核实，放行")
    approve.click()
    expect(held.get_by_test_id("guard-approved")).to_contain_text(SUN.username)
    approved = guard.locator(f'[data-testid="guard-approval"][data-value="{nowhere}"]')
    expect(approved).to_contain_text(SUN.username)
    screenshot(sun, "guard_approved")
    # Agents approve nothing.
    status, _ = wu_api.post(f"/tickets/{ticket.ticket_id}/guard/approve", {"value": own})
    assert status == 403

    # Now the agent's reply with it is sent; asking for the mnemonic still is not.
    send(to_nowhere)
    expect(agent_lines.filter(has_text=nowhere)).to_have_count(1)
    expect(blocked).to_be_hidden()
    send(ASKS_MNEMONIC)
    expect(blocked.locator('[data-kind="secret_request"]')).to_have_count(1)
    assert stored_events_holding(stack, nowhere) >= 1
    assert stored_events_holding(stack, ASKS_MNEMONIC) == asked_before

    # The blocks and the approval are in the audit log.
    zhou = AgentConsole(stack.http, ZHOU)
    wu_log = zhou.get(f"/audit?actor={WU.username}")["entries"]
    assert any(entry["action"] == "reply_blocked" for entry in wu_log)
    sun_log = zhou.get(f"/audit?actor={SUN.username}")["entries"]
    assert any(entry["action"] == "guard_approval" for entry in sun_log)
