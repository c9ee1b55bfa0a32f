"""Replies in the user's script on every channel of one running Rasa server and action server.

A user who writes traditional Chinese reads the assistant's responses and button titles in
traditional (Taiwan forms, or Hong Kong forms after Cantonese), on REST, the widget (socket.io),
Telegram and WeChat; button payloads stay as they are, and an agent's own words are not converted.
A local HTTP server stands in for both the Telegram Bot API and WeChat's API.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import socketio

from bot.channels.wechat.crypto import sha1_signature
from bot.channels.wechat.xml import parse_xml
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from scripts.local_stack import LocalStack, widget_token
from tests.conftest import ALWAYS_OPEN

TELEGRAM_TOKEN = "123456:script-test"
TELEGRAM_SECRET = "script-test-telegram-secret"
WECHAT_TOKEN = "script-test-wechat-token"
WECHAT_APP_ID = "wx2c2769f8efd9abc3"
WECHAT_APP_SECRET = "script-test-wechat-secret"
WECHAT_ACCOUNT = "gh_10f6c3c3ac5b"
AGENT_PASSWORD = "a-long-agent-password"

TAIWAN = "您好，請問"  # traditional, no Cantonese
HONG_KONG = "哈囉，你哋好"  # traditional with a Cantonese word
SIMPLIFIED = "您好，请问"
GREETING_TW = "錢包智慧客服"  # s2twp: 智能 -> 智慧
GREETING_HK = "賬户安全"  # s2hk keeps 智能 and writes 户
GREETING_SIMPLIFIED = "钱包智能客服"
FIRST_BUTTON = ("轉賬/提幣沒到賬", "/transfer_pending")

_ids = itertools.count(int(time.time()) * 1000)


class FakePlatforms:
    """api.telegram.org and api.weixin.qq.com on loopback, recording what the bot sends."""

    def __init__(self) -> None:
        self.telegram: list[dict[str, Any]] = []
        self.wechat: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        platforms = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def answer(self, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def handle_call(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                if url.path == f"/bot{TELEGRAM_TOKEN}/sendMessage":
                    with platforms.lock:
                        platforms.telegram.append(body)
                    self.answer({"ok": True, "result": True})
                elif url.path.startswith(f"/bot{TELEGRAM_TOKEN}/"):
                    self.answer({"ok": True, "result": True})
                elif url.path == "/cgi-bin/token":
                    self.answer({"access_token": "access-token", "expires_in": 7200})
                elif url.path == "/cgi-bin/message/custom/send":
                    with platforms.lock:
                        platforms.wechat.append(body)
                    self.answer({"errcode": 0, "errmsg": "ok"})
                else:
                    self.answer({"errcode": 404, "errmsg": "unknown api"})

            do_GET = handle_call
            do_POST = handle_call

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def telegram_to(self, chat_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.telegram if m.get("chat_id") == chat_id]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def platforms() -> Iterator[FakePlatforms]:
    fake = FakePlatforms()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, platforms: FakePlatforms
) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("reply-script")
    local = LocalStack(
        workdir,
        settings={
            "SUPPORT_HOURS": ALWAYS_OPEN,
            "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": platforms.url,
            "WECHAT_TOKEN": WECHAT_TOKEN,
            "WECHAT_APP_ID": WECHAT_APP_ID,
            "WECHAT_APP_SECRET": WECHAT_APP_SECRET,
            "WECHAT_API_URL": platforms.url,
            "BINDING_DB_URL": f"sqlite:///{workdir / 'bindings.db'}",
        },
    )
    local.seed()
    HandoffStore.from_url(local.handoff_url).agents.add("li", "小李", AGENT_PASSWORD)
    local.start_actions()
    local.start_rasa()
    try:
        yield local
    finally:
        local.stop_all()


def request(
    url: str, body: Any = None, headers: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    call = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(call, timeout=60) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None, dict(answer.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None, dict(error.headers)


class RestUser:
    """A user of the REST channel, keeping the conversation token of the first reply."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.sender = f"script-rest-{next(_ids)}"
        self.token: str | None = None

    def say(self, text: str) -> list[dict[str, Any]]:
        headers = {"X-Conversation-Token": self.token} if self.token else {}
        status, messages, answer_headers = request(
            self.stack.rest_url, {"sender": self.sender, "message": text}, headers
        )
        assert status == 200, messages
        self.token = self.token or answer_headers.get("X-Conversation-Token")
        return list(messages)


def joined(messages: list[dict[str, Any]]) -> str:
    return " ".join(m.get("text") or "" for m in messages)


def buttons(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(b["title"], b["payload"]) for m in messages for b in m.get("buttons") or []]


def test_rest_answers_in_the_users_script(stack: LocalStack) -> None:
    taiwan = RestUser(stack).say(TAIWAN)
    assert GREETING_TW in joined(taiwan)
    assert buttons(taiwan)[0] == FIRST_BUTTON

    hong_kong = RestUser(stack).say(HONG_KONG)
    assert GREETING_HK in joined(hong_kong)
    assert buttons(hong_kong)[0] == FIRST_BUTTON

    simplified = RestUser(stack).say(SIMPLIFIED)
    assert GREETING_SIMPLIFIED in joined(simplified)
    assert buttons(simplified)[0] == ("转账/提币没到账", "/transfer_pending")


def test_a_button_press_keeps_the_script_already_seen(stack: LocalStack) -> None:
    user = RestUser(stack)
    user.say(TAIWAN)
    replies = joined(user.say("/network_fee"))  # a payload tells neither script
    assert "礦工費" in replies
    assert "矿工费" not in replies


def test_an_agents_message_is_not_converted(stack: LocalStack) -> None:
    user = RestUser(stack)
    queued = user.say("我要轉人工客服")
    assert "轉接人工客服" in joined(queued)

    console = f"{stack.base_url}/webhooks/agent/api"
    _, login, _ = request(f"{console}/login", {"username": "li", "password": AGENT_PASSWORD})
    auth = {"Authorization": f"Bearer {login['token']}"}
    _, queue, _ = request(f"{console}/queue", headers=auth)
    ticket = next(t for t in queue["tickets"] if t["conversation_id"] == user.sender)
    assert request(f"{console}/tickets/{ticket['ticket_id']}/claim", {}, auth)[0] == 200
    agent_text = "您好，我是小李，请问遇到什么问题？"
    reply = request(f"{console}/tickets/{ticket['ticket_id']}/reply", {"text": agent_text}, auth)
    assert reply[0] == 200

    texts = [m.get("text") for m in user.say("我嘅錢冇到")]
    assert agent_text in texts  # as the agent wrote it
    assert any("已接入" in text and "請問" in text for text in texts)  # the bot's notice converted


def test_the_widget_answers_in_the_users_script(stack: LocalStack) -> None:
    async def scenario() -> list[dict[str, Any]]:
        received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        greeted = asyncio.Event()
        client = socketio.AsyncClient(reconnection=False)
        client.on("bot_uttered", received.put_nowait)
        client.on("history", lambda _: greeted.set())
        await client.connect(
            stack.base_url,
            socketio_path="/socket.io",
            transports=["polling"],
            auth={"token": widget_token(demo_data.ALICE)},
            wait_timeout=15,
        )
        try:
            await asyncio.wait_for(greeted.wait(), 15)
            await client.emit("user_uttered", {"message": TAIWAN})
            return [await asyncio.wait_for(received.get(), 60)]
        finally:
            await client.disconnect()

    messages = asyncio.run(scenario())
    assert GREETING_TW in joined(messages)
    assert buttons(messages)[0] == FIRST_BUTTON


def test_telegram_answers_in_the_users_script(stack: LocalStack, platforms: FakePlatforms) -> None:
    user_id = 9_300_000_000 + next(_ids) % 1_000_000
    sender = {"id": user_id, "is_bot": False, "first_name": "Mei", "language_code": "zh-hant"}
    update = {
        "update_id": next(_ids) % 1_000_000_000,
        "message": {
            "message_id": 1,
            "from": sender,
            "chat": {"id": user_id, "first_name": "Mei", "type": "private"},
            "date": int(time.time()),
            "text": HONG_KONG,
        },
    }
    status, _, _ = request(
        f"{stack.base_url}/webhooks/telegram/webhook",
        update,
        {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    assert status == 200
    sent = platforms.telegram_to(user_id)
    assert any(GREETING_HK in m["text"] for m in sent), sent
    keyboard = [
        b for m in sent for row in m.get("reply_markup", {}).get("inline_keyboard", []) for b in row
    ]
    assert (keyboard[0]["text"], keyboard[0]["callback_data"]) == FIRST_BUTTON


def test_wechat_answers_in_the_users_script(stack: LocalStack) -> None:
    openid = f"oScript{secrets.token_hex(8)}"
    stamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    query = {
        "signature": sha1_signature(WECHAT_TOKEN, stamp, nonce),
        "timestamp": stamp,
        "nonce": nonce,
    }
    xml = (
        f"<xml><ToUserName><![CDATA[{WECHAT_ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{TAIWAN}]]></Content><MsgId>{next(_ids)}</MsgId></xml>"
    )
    call = urllib.request.Request(
        f"{stack.base_url}/webhooks/wechat/webhook?{urllib.parse.urlencode(query)}",
        data=xml.encode(),
        headers={"Content-Type": "text/xml"},
        method="POST",
    )
    with urllib.request.urlopen(call, timeout=60) as answer:
        assert answer.status == 200
        reply = parse_xml(answer.read())["Content"]
    assert GREETING_TW in reply
    assert FIRST_BUTTON[0] in reply
