"""The evidence card of a confirmed transfer (the domain's ``utter_evidence_card``, rendered by the
NLG) on every surface but the browser: one widget message carrying the card, and the card in the
widget's history; the response's text alone on Telegram and WeChat, pushed or collected; the card
in the agent console's ticket transcript (the API, served in process). The pages themselves are
in test_evidence_card_browser.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.shared.core.events import BotUttered, UserUttered

from bot.channels.evidence_card import EvidenceCard
from bot.channels.responses import render
from bot.channels.telegram.api import BotApi
from bot.channels.telegram.buttons import ButtonPayloads
from bot.channels.telegram.channel import TelegramOutput
from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.render import WeChatCollector, WeChatOutput
from bot.channels.wechat.render import render as wechat_texts
from bot.channels.widget.channel import recent_messages
from bot.channels.widget.sockets import BOT_EVENT, WidgetOutput
from bot.handoff.console import ConsoleHandlers
from bot.handoff.dispatch import Dispatcher
from bot.handoff.records import Reason, Role, Summary, Team
from bot.handoff.store import HandoffStore
from bot.services import Services
from bot.settings import Settings
from bot.wallet.explorers import explorer_link
from tests.support.channel_server import InProcessSanic, domain_agent, served_app
from tests.support.fakes import TELEGRAM_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, FakePlatforms
from tests.support.http import CONSOLE_API, Http

TXID = "0x" + "5e" * 32
VALUES = {
    "txid": TXID,
    "from_address": "0x" + "a1" * 20,
    "to_address": "0x" + "b2" * 20,
    "amount": "120",
    "currency": "USDT",
    "chain": "ETH",
    "time": "2024-05-01 10:20:00 UTC",
    "confirmations": "64",
    "explorer_link": explorer_link("ETH", TXID),
}
ROWS = [
    ("交易哈希", TXID),
    ("转出地址", VALUES["from_address"]),
    ("收款地址", VALUES["to_address"]),
    ("金额", "120 USDT"),
    ("网络", "ETH"),
    ("时间", "2024-05-01 10:20:00 UTC"),
    ("确认数", "64"),
]


@pytest.fixture(scope="module")
def agent() -> Agent:
    return domain_agent()


def card_message(agent: Agent, channel: str, **changes: Any) -> dict[str, Any]:
    """The response as the NLG renders it for ``channel``: text and custom."""
    values = {**VALUES, **changes}
    return asyncio.run(render(agent, "c-card", "utter_evidence_card", channel, **values))


# --- the card -------------------------------------------------------------------------------


def test_the_rendered_card_has_the_transfers_rows_and_copies_them_as_lines(agent: Agent) -> None:
    card = EvidenceCard.of(card_message(agent, "widget")["custom"])
    assert card is not None
    assert (card.title, card.copy_label, card.copied_label) == ("转账凭证", "复制凭证", "已复制")
    assert [(f.label, f.value) for f in card.fields] == ROWS
    assert card.copy_text == "\n".join(f"{label}：{value}" for label, value in ROWS)
    assert card.explorer_link == f"https://etherscan.io/tx/{TXID}"


@pytest.mark.parametrize(
    "link", ["", "javascript:alert(1)", "{explorer_link}", "https://", "https://x y"]
)
def test_only_a_web_address_becomes_the_explorer_link(agent: Agent, link: str) -> None:
    card = EvidenceCard.of(card_message(agent, "widget", explorer_link=link)["custom"])
    assert card is not None and card.explorer_link is None


@pytest.mark.parametrize(
    "custom",
    [
        None,
        {"evidence_card": "转账凭证"},
        {"evidence_card": {"title": "转账凭证", "copy_label": "复制", "copied_label": "已复制"}},
        {
            "evidence_card": {
                "title": "转账凭证",
                "copy_label": "复制",
                "copied_label": "已复制",
                "fields": [{"label": "交易哈希"}, "0xab", {"label": 1, "value": "x"}],
            }
        },
        {
            "evidence_card": {
                "title": "",
                "copy_label": "复制",
                "copied_label": "已复制",
                "fields": [{"label": "网络", "value": "ETH"}],
            }
        },
    ],
)
def test_a_malformed_card_is_no_card(custom: Any) -> None:
    assert EvidenceCard.of(custom) is None


# --- the widget -----------------------------------------------------------------------------


class RecordingSockets:
    """Stands in for the socket.io server: what the output emits, to which room."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, str | None]] = []

    async def emit(self, event: str, data: Any, room: str | None = None, **_: Any) -> None:
        self.emitted.append((event, data, room))


def test_the_widget_gets_the_card_in_the_same_message_as_its_text(agent: Agent) -> None:
    sockets = RecordingSockets()
    message = card_message(agent, "widget")
    asyncio.run(WidgetOutput(sockets).send_response("widget:abc", message))  # type: ignore[arg-type]
    assert len(sockets.emitted) == 1, sockets.emitted
    event, data, room = sockets.emitted[0]
    assert (event, room) == (BOT_EVENT, "widget:abc")
    assert data["text"] == message["text"]
    assert data["evidence_card"]["copy_text"].splitlines()[0] == f"交易哈希：{TXID}"
    assert "custom" not in data


def test_other_widget_messages_go_out_as_before(agent: Agent) -> None:
    sockets = RecordingSockets()
    output = WidgetOutput(sockets)  # type: ignore[arg-type]
    buttons = [{"title": "是", "payload": "/affirm"}]
    asyncio.run(output.send_response("r", {"text": "好的", "buttons": buttons, "timestamp": 1}))
    asyncio.run(output.send_response("r", {"text": "", "custom": {"other": 1}}))
    assert [data for _, data, _ in sockets.emitted] == [{"text": "好的", "buttons": buttons}]


def test_the_widget_history_keeps_the_card(agent: Agent) -> None:
    message = card_message(agent, "widget")
    tracker = agent.tracker_store.init_tracker("widget:history")
    tracker.update(UserUttered("我的USDT转到交易所没到账"))
    tracker.update(BotUttered(message["text"], {"custom": message["custom"]}))
    asyncio.run(agent.tracker_store.save(tracker))
    lines = asyncio.run(recent_messages(agent, "widget:history"))
    assert [line["role"] for line in lines] == ["user", "bot"]
    assert lines[1]["text"] == message["text"]
    assert [(row["label"], row["value"]) for row in lines[1]["evidence_card"]["fields"]] == ROWS


# --- Telegram and WeChat: the text alone ----------------------------------------------------


def test_telegram_sends_the_text_alone(
    agent: Agent, platforms: FakePlatforms, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    message = card_message(agent, "telegram")
    chat = 7_700_001
    api = BotApi(platforms.url, TELEGRAM_TOKEN)
    output = TelegramOutput(api, ButtonPayloads.from_url(f"sqlite:///{tmp_path / 'buttons.db'}"))
    before = len(platforms.telegram_calls)

    async def send() -> None:
        try:
            await output.send_response(f"telegram:{chat}", dict(message))
        finally:
            await api.close()

    asyncio.run(send())
    sent = [p for m, p in platforms.telegram_calls[before:] if p.get("chat_id") == chat]
    assert [p["text"] for p in sent] == [message["text"]]
    assert "交易哈希：" + TXID in sent[0]["text"] and "evidence_card" not in sent[0]["text"]
    assert "not sent" not in caplog.text


def test_wechat_collects_the_text_alone_for_its_passive_reply(agent: Agent) -> None:
    message = card_message(agent, "wechat")
    collector = WeChatCollector()
    asyncio.run(collector.send_response("wechat:oCard", dict(message)))
    assert wechat_texts(collector.messages) == [message["text"]]


def test_wechat_pushes_the_text_alone(agent: Agent, platforms: FakePlatforms) -> None:
    message = card_message(agent, "wechat")
    openid = "oEvidenceCard0001"
    api = WeChatApi(platforms.url, WECHAT_APP_ID, WECHAT_APP_SECRET)

    async def send() -> None:
        try:
            await WeChatOutput(api).send_response(f"wechat:{openid}", dict(message))
        finally:
            await api.close()

    asyncio.run(send())
    assert platforms.texts(openid) == [message["text"]]


# --- the agent console's transcript ---------------------------------------------------------


PASSWORD = "a-long-card-test-password"


@pytest.fixture
def console(tmp_path: Path, agent: Agent) -> Iterator[tuple[Http, HandoffStore]]:
    """The console's routes on a server of their own, with the domain's agent; ``ann`` logged in."""
    store = HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")
    app = InProcessSanic(f"card-console-{tmp_path.name}")
    env = {**os.environ, "HANDOFF_DB_URL": f"sqlite:///{tmp_path / 'handoff.db'}"}
    app.ctx.services = Services(Settings.from_env(env), handoff=store)
    app.ctx.agent = agent
    for method, uri, handler in ConsoleHandlers(store, Dispatcher()).routes():
        app.add_route(_plain(handler), f"/webhooks/agent{uri}", methods=[method])
    store.agents.add("ann", "ann", PASSWORD, Role.AGENT, (Team.GENERAL,))
    with served_app(app) as url:
        yield Http.to(url), store


def _plain(handler: Any) -> Any:
    async def route(request: Any, **params: Any) -> Any:
        return await handler(request, **params)

    return route


def test_the_console_transcript_carries_the_card(
    agent: Agent, console: tuple[Http, HandoffStore]
) -> None:
    http, store = console
    message = card_message(agent, "widget")
    conversation = "widget:console-card"
    tracker = agent.tracker_store.init_tracker(conversation)
    tracker.update(UserUttered("转到交易所的USDT还没到账"))
    tracker.update(BotUttered(message["text"], {"custom": message["custom"]}))
    asyncio.run(agent.tracker_store.save(tracker))
    ticket = store.tickets.open(conversation, "widget", Reason.REQUESTED, Summary())
    login = http.post(f"{CONSOLE_API}/login", json={"username": "ann", "password": PASSWORD})
    token = login.json()["token"]
    answer = http.get(
        f"{CONSOLE_API}/tickets/{ticket.ticket_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 200, answer.text
    bot = [line for line in answer.json()["transcript"] if line["role"] == "bot"]
    assert len(bot) == 1 and bot[0]["text"] == message["text"]
    card = bot[0]["evidence_card"]
    assert [(row["label"], row["value"]) for row in card["fields"]] == ROWS
    assert card["copy_text"] == "\n".join(f"{label}：{value}" for label, value in ROWS)
    assert card["explorer_link"] == VALUES["explorer_link"]
    assert "evidence_card" not in json.dumps(
        [line for line in answer.json()["transcript"] if line["role"] == "user"]
    )
