"""The evidence card in headless chromium: the widget draws it natively (once, instead of its
text; rows that wrap, a copy button, the explorer link in a new tab; again from the history after
a reload), and the agent console shows it in the ticket's transcript, copyable.

The widget, the agent console's routes (without its background tasks, which need a server
started by ``app.run``) and a test route that sends a domain response to a widget conversation
as the transfer watcher does (``Delivery.send_response``) are served in process with the
project's domain and no model (``tests.support.channel_server.serving``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.widget import WidgetChannel
from bot.channels.widget_auth import mint
from bot.handoff.access import RoleCheck
from bot.handoff.audit_console import AuditHandlers
from bot.handoff.console import ConsoleHandlers
from bot.handoff.delivery import Delivery
from bot.handoff.desk import DeskHandlers
from bot.handoff.dispatch import Dispatcher
from bot.handoff.records import Reason, Role, Summary, Team
from bot.handoff.store import HandoffStore
from bot.services import services_of
from bot.wallet.explorers import explorer_link
from tests.browser import SCREENSHOTS, chromium
from tests.support.channel_server import domain_agent, serving
from tests.support.http import Http

WAIT_MS = 15_000
SECRET = "evidence-card-widget-secret-0123456789"
AUDIENCE = "im-wallet-support-card-test"
PASSWORD = "a-long-card-console-password"
TXID = "0x" + "7f3a" * 16
HOSTILE = '<img id="pwned" src=x onerror="document.title=1">USDT'
VALUES = {
    "txid": TXID,
    "from_address": "0x" + "a1b2" * 10,
    "to_address": "0x" + "c3d4" * 10,
    "amount": "120",
    "currency": HOSTILE,
    "chain": "ETH",
    "time": "2024-05-01 10:20:00 UTC",
    "confirmations": "64",
    "explorer_link": explorer_link("ETH", TXID),
}
ROWS = [
    ("交易哈希", TXID),
    ("转出地址", VALUES["from_address"]),
    ("收款地址", VALUES["to_address"]),
    ("金额", f"120 {HOSTILE}"),
    ("网络", "ETH"),
    ("时间", "2024-05-01 10:20:00 UTC"),
    ("确认数", "64"),
]
COPIED = "\n".join(f"{label}：{value}" for label, value in ROWS)


class ConsoleRoutes(InputChannel):
    """The routes the console page calls (``AgentConsole``'s), on ``store``."""

    def __init__(self, store: HandoffStore) -> None:
        self._store = store

    @classmethod
    def name(cls) -> str:
        return "agent"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        console = Blueprint("card_console", __name__)
        roles, dispatcher = RoleCheck(self._store), Dispatcher()
        routes = (
            ConsoleHandlers(self._store, dispatcher).routes()
            + DeskHandlers(roles, dispatcher).routes()
            + AuditHandlers(roles).routes()
        )
        for method, uri, handler in routes:
            console.add_route(_plain(handler), uri, methods=[method])
        return console


def _plain(handler: Any) -> Any:
    async def route(request: Any, **params: Any) -> Any:
        return await handler(request, **params)

    return route


class CardPush(InputChannel):
    """POST /webhooks/push {conversation, response, values}: the response, sent to the widget
    conversation on the server's loop as the watcher sends it."""

    @classmethod
    def name(cls) -> str:
        return "push"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        push = Blueprint("card_push", __name__)

        @push.route("/", methods=["POST"])
        async def send(request: Request) -> HTTPResponse:
            app, given = request.app, request.json
            outbox = services_of(app).handoff.outbox
            delivery = Delivery(app.ctx.agent, app.ctx.input_channels, outbox)
            await delivery.send_response(
                given["conversation"], given["response"], channel="widget", **given["values"]
            )
            return response.json({"sent": True})

        return push


@dataclass
class Desk:
    url: str
    widget: WidgetChannel
    store: HandoffStore

    def send_card(self, conversation: str) -> None:
        body = {"conversation": conversation, "response": "utter_evidence_card", "values": VALUES}
        assert Http.to(self.url).post("/webhooks/push/", json=body).status == 200


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    work: Path = tmp_path_factory.mktemp("card")
    store = HandoffStore.from_url(f"sqlite:///{work / 'desk.db'}")
    store.agents.add("ann", "ann", PASSWORD, Role.AGENT, (Team.GENERAL,))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WIDGET_JWT_SECRET", SECRET)
        patch.setenv("WIDGET_JWT_AUDIENCE", AUDIENCE)
        widget = WidgetChannel()
        with serving(widget, ConsoleRoutes(store), CardPush(), agent=domain_agent()) as url:
            yield Desk(url, widget, store)


@pytest.fixture(scope="module")
def browser(desk: Desk) -> Iterator[Any]:
    with chromium(390, 844) as launched:  # a phone
        launched.grant_permissions(["clipboard-read", "clipboard-write"], origin=desk.url)
        yield launched


def watched(page: Page, console: bool = True) -> list[str]:
    """The page's script errors, collected as it runs, and (``console``) the errors it logs; the
    console page calls routes not served here (alerts' neighbours, suggestions) and logs them."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    if console:
        page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def expect_card(card: Any) -> None:
    """The card shows every row, each label with its value, as text."""
    rows = card.get_by_test_id("card-row")
    expect(rows).to_have_count(len(ROWS), timeout=WAIT_MS)
    for index, (label, value) in enumerate(ROWS):
        expect(rows.nth(index).locator("dt")).to_have_text(label)
        expect(rows.nth(index).locator("dd")).to_have_text(value)
    link = card.get_by_test_id("card-explorer-link")
    expect(link).to_have_attribute("href", f"https://etherscan.io/tx/{TXID}")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener")


def copies(page: Page, card: Any, copied_label: str) -> str:
    """Clicks the card's copy button; what the clipboard then holds."""
    page.evaluate("navigator.clipboard.writeText('')")
    button = card.get_by_test_id("card-copy")
    button.click()
    expect(button).to_have_text(copied_label, timeout=WAIT_MS)
    return str(page.evaluate("navigator.clipboard.readText()"))


def test_the_widget_draws_the_card_once_instead_of_its_text(browser: Any, desk: Desk) -> None:
    account = "card-widget-user"
    page = browser.new_page()
    errors = watched(page)
    token = mint(SECRET, account, 10, AUDIENCE)
    page.goto(f"{desk.url}/webhooks/widget/chat#token={token}")
    expect(page.get_by_test_id("status")).to_have_text("在线", timeout=WAIT_MS)

    desk.send_card(desk.widget.conversation(account))
    card = page.get_by_test_id("evidence-card")
    expect(card).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("bot-message")).to_have_count(1)
    expect(card.locator(".card-title")).to_have_text("转账凭证")
    expect(page.get_by_test_id("log")).not_to_contain_text("可以整段复制给交易所客服")
    expect_card(card)
    assert page.locator("#pwned").count() == 0
    # Long values wrap inside the card: nothing is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    widths = card.evaluate("c => [c.scrollWidth, c.clientWidth]")
    assert widths[0] <= widths[1], widths
    page.screenshot(path=str(SCREENSHOTS / "widget_evidence_card.png"))

    assert copies(page, card, "已复制") == COPIED
    expect(card.get_by_test_id("card-copy")).to_have_text("复制凭证", timeout=WAIT_MS)

    # The history after a reload draws it the same way, once.
    page.reload()
    expect(page.get_by_test_id("evidence-card")).to_have_count(1, timeout=WAIT_MS)
    expect(page.get_by_test_id("bot-message")).to_have_count(1)
    expect_card(page.get_by_test_id("evidence-card"))
    page.close()
    assert errors == []


def test_the_console_shows_the_card_in_the_transcript(browser: Any, desk: Desk) -> None:
    account = "card-console-user"
    conversation = desk.widget.conversation(account)
    desk.send_card(conversation)
    ticket = desk.store.tickets.open(conversation, "widget", Reason.REQUESTED, Summary())
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    errors = watched(page, console=False)
    page.goto(f"{desk.url}/webhooks/agent/console")
    page.get_by_test_id("login-username").fill("ann")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    item = page.locator(f'[data-testid="queue-item"][data-ticket-id="{ticket.ticket_id}"]')
    expect(item).to_be_visible(timeout=WAIT_MS)
    item.click()

    bot = page.locator('[data-testid="message"][data-role="bot"]')
    expect(bot).to_have_count(1, timeout=WAIT_MS)
    card = bot.get_by_test_id("evidence-card")
    expect(card).to_be_visible()
    expect_card(card)
    expect(bot).not_to_contain_text("可以整段复制给交易所客服")
    assert page.locator("#pwned").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "agent_console_evidence_card.png"))
    assert copies(page, card, "已复制") == COPIED
    page.close()
    assert errors == []
