"""Replies in the user's script on every channel of the served stack.

A user who writes traditional Chinese reads the assistant's responses and button titles in
traditional (Taiwan forms, or Hong Kong forms after Cantonese), on REST, the widget (socket.io),
Telegram and WeChat; button payloads stay as they are, and an agent's own words are not converted.
The fake platforms stand in for the Telegram Bot API and WeChat's API.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from scripts.local_stack import widget_token
from tests.support.fakes import FakePlatforms
from tests.support.http import AgentConsole, RestUser, WidgetUser
from tests.support.platform_users import TelegramUser, WeChatUser, private_message, update
from tests.support.stack import ServedStack

TAIWAN = "您好，請問"  # traditional, no Cantonese
HONG_KONG = "哈囉，你哋好"  # traditional with a Cantonese word
SIMPLIFIED = "您好，请问"
GREETING_TW = "錢包智慧客服"  # s2twp: 智能 -> 智慧
GREETING_HK = "賬户安全"  # s2hk keeps 智能 and writes 户
GREETING_SIMPLIFIED = "钱包智能客服"
FIRST_BUTTON = ("轉賬/提幣沒到賬", "/transfer_pending")


def joined(messages: list[dict[str, Any]]) -> str:
    return " ".join(m.get("text") or "" for m in messages)


def buttons(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(b["title"], b["payload"]) for m in messages for b in m.get("buttons") or []]


def test_rest_answers_in_the_users_script(served: ServedStack) -> None:
    taiwan = RestUser(served.http).send(TAIWAN)
    assert GREETING_TW in joined(taiwan)
    assert buttons(taiwan)[0] == FIRST_BUTTON

    hong_kong = RestUser(served.http).send(HONG_KONG)
    assert GREETING_HK in joined(hong_kong)
    assert buttons(hong_kong)[0] == FIRST_BUTTON

    simplified = RestUser(served.http).send(SIMPLIFIED)
    assert GREETING_SIMPLIFIED in joined(simplified)
    assert buttons(simplified)[0] == ("转账/提币没到账", "/transfer_pending")


def test_a_button_press_keeps_the_script_already_seen(served: ServedStack) -> None:
    user = RestUser(served.http)
    user.send(TAIWAN)
    replies = joined(user.send("/network_fee"))  # a payload tells neither script
    assert "礦工費" in replies
    assert "矿工费" not in replies


def test_an_agents_message_is_not_converted(served: ServedStack) -> None:
    user = RestUser(served.http)
    assert "轉接人工客服" in " ".join(user.say("我要轉人工客服"))

    console = AgentConsole(served.http)
    ticket = console.ticket_of(user.sender)
    assert console.post(f"/tickets/{ticket['ticket_id']}/claim")[0] == 200
    agent_text = "您好，我是小李，请问遇到什么问题？"
    assert console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": agent_text})[0] == 200

    texts = user.say("我嘅錢冇到")
    assert agent_text in texts  # as the agent wrote it
    assert any("已接入" in text and "請問" in text for text in texts)  # the bot's notice converted


def test_the_widget_answers_in_the_users_script(served: ServedStack) -> None:
    async def scenario() -> list[dict[str, Any]]:
        widget = WidgetUser(served.base_url)
        assert await widget.open(widget_token(f"script-widget-{secrets.token_hex(4)}"))
        try:
            await widget.client.emit("user_uttered", {"message": TAIWAN})
            await widget.text(60)
            return widget.messages[:1]
        finally:
            await widget.close()

    messages = asyncio.run(scenario())
    assert GREETING_TW in joined(messages)
    assert buttons(messages)[0] == FIRST_BUTTON


def test_telegram_answers_in_the_users_script(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    sender = {"id": user.user_id, "is_bot": False, "first_name": "Mei", "language_code": "zh-hant"}
    sent = user.send(
        update(message=private_message(user.user_id, text=HONG_KONG, **{"from": sender}))
    )
    assert any(GREETING_HK in m["text"] for m in sent), sent
    keyboard = [
        b for m in sent for row in m.get("reply_markup", {}).get("inline_keyboard", []) for b in row
    ]
    assert (keyboard[0]["text"], keyboard[0]["callback_data"]) == FIRST_BUTTON


def test_wechat_answers_in_the_users_script(served: ServedStack, platforms: FakePlatforms) -> None:
    reply = WeChatUser(served.http, platforms, f"oScript{secrets.token_hex(8)}").say(TAIWAN)
    assert reply is not None
    assert GREETING_TW in reply
    assert FIRST_BUTTON[0] in reply
