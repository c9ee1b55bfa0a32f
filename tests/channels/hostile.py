"""Hostile-input helpers: one stack with every entry point, raw HTTP calls and a widget client.

The stack serves REST, the widget (socket.io), Telegram (against ``FakeBotApi``), WeChat in
plaintext mode (against ``FakeWeChatApi``), the agent console, metrics and Rasa's own HTTP API
(HS256 JWT), all from the repository's credentials.yml with settings from the environment.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import jwt
import socketio

from bot.channels.wechat.xml import parse_xml
from bot.handoff.store import HandoffStore
from scripts.local_stack import LocalStack, widget_token
from tests.channels.test_handoff_api import PASSWORD
from tests.channels.test_telegram import SECRET as TELEGRAM_SECRET
from tests.channels.test_telegram import TOKEN as TELEGRAM_TOKEN
from tests.channels.test_telegram import FakeBotApi
from tests.channels.test_wechat import (
    ACCOUNT,
    APP_ID,
    APP_SECRET,
    TEXT_XML,
    FakeWeChatApi,
    signed_query,
)
from tests.channels.test_wechat import TOKEN as WECHAT_TOKEN
from tests.conftest import ALWAYS_OPEN

TIMEOUT = 10.0  # no entry point may keep a caller waiting longer than this
API_JWT_SECRET = "hostile-input-rasa-api-jwt-secret-0123456789"
AGENT = "li"
# Replies of bot.channels.intake (domain.yml).
EMPTY_REPLY = "您好像发了一条空消息😊 请用文字描述您的问题，我马上帮您看。"
TOO_LONG_REPLY = "消息有点长，我一次最多能看 {max_chars} 个字。请简单说说您遇到的问题，我再帮您看～"
SLOW_DOWN_REPLY = "您发得有点快，请稍等几秒再发，我会一条条回复您。"
GREETING = "您好，我是IM钱包智能客服"
# A traceback through the assistant's own code: a frame in bot/ or actions/, or one of our
# socket.io handlers (python-socketio calls them without a frame of ours when the call fails).
OUR_FRAME = re.compile(
    r'File "[^"]*/(?:bot|actions)/[^"]*\.py"|(?:Widget|Telegram|WeChat|Rest)Channel\.|AgentConsole\.'
)

_ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000)


def unique(prefix: str) -> str:
    """A conversation, account or user name no other test of this session used."""
    return f"{prefix}-{next(_ids)}"


def fresh_id() -> int:
    """A number no other request of this test session used (update ids, message ids)."""
    return next(_ids)


def telegram_user_id() -> int:
    return 8_000_000_000 + next(_ids) % 10**9


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, content type and raw body."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http(
    url: str,
    body: bytes | None = None,
    *,
    method: str | None = None,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> Answer:
    """One request; any status is returned, also one the server sends before reading the whole
    body (413): the client stops sending and reads it, as HTTP allows. A timeout raises."""
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    sent = dict(headers or {})
    if body is not None and content_type is not None:
        sent["Content-Type"] = content_type
    if body is not None:
        sent["Content-Length"] = str(len(body))
    try:
        connection.putrequest(
            method or ("GET" if body is None else "POST"),
            parts.path + (f"?{parts.query}" if parts.query else ""),
            skip_accept_encoding=True,
        )
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders()
        try:
            for start in range(0, len(body or b""), 65536):
                connection.send((body or b"")[start : start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; its answer is waiting
        answer = connection.getresponse()
        return Answer(answer.status, answer.getheader("Content-Type", ""), answer.read())
    finally:
        connection.close()


def as_json(value: Any) -> bytes:
    """JSON as a client writes it; lone surrogates go out as ``\\ud800`` escapes."""
    return json.dumps(value).encode()


@dataclass
class HostileStack:
    """A LocalStack serving every entry point, with fake Telegram and WeChat APIs."""

    local: LocalStack
    bot_api: FakeBotApi
    wechat_api: FakeWeChatApi
    agent_token: str = ""

    @classmethod
    def start(cls, workdir: Path, **settings: str) -> HostileStack:
        bot_api = FakeBotApi()
        bot_api.thread.start()
        wechat_api = FakeWeChatApi()
        wechat_api.start()
        local = LocalStack(
            workdir,
            settings={
                "SUPPORT_HOURS": ALWAYS_OPEN,
                "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
                "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
                "TELEGRAM_API_URL": bot_api.url,
                "WECHAT_TOKEN": WECHAT_TOKEN,
                "WECHAT_APP_ID": APP_ID,
                "WECHAT_APP_SECRET": APP_SECRET,
                "WECHAT_API_URL": wechat_api.url,
                "WECHAT_AES_KEY": "",
                **settings,
            },
            api_jwt_secret=API_JWT_SECRET,
        )
        stack = cls(local, bot_api, wechat_api)
        try:
            local.seed()
            HandoffStore.from_url(local.handoff_url).agents.add(AGENT, "小李", PASSWORD)
            local.start_actions()
            local.start_rasa()
            stack.agent_token = stack.login()
        except Exception:
            stack.stop()
            raise
        return stack

    def stop(self) -> None:
        self.local.stop_all()
        self.bot_api.server.shutdown()
        self.bot_api.server.server_close()
        self.wechat_api.stop()

    # -- addresses -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.local.base_url

    @property
    def rest_url(self) -> str:
        return self.local.rest_url

    @property
    def telegram_url(self) -> str:
        return f"{self.base_url}/webhooks/telegram/webhook"

    @property
    def wechat_url(self) -> str:
        return f"{self.base_url}/webhooks/wechat/webhook"

    @property
    def agent_api(self) -> str:
        return f"{self.base_url}/webhooks/agent/api"

    # -- REST --------------------------------------------------------------------------------

    def rest(self, sender: str, message: str) -> list[str]:
        """The texts a REST user gets back for ``message``."""
        answer = http(self.rest_url, as_json({"sender": sender, "message": message}))
        assert answer.status == 200, answer
        return [m.get("text", "") for m in answer.json()]

    def still_answers(self) -> None:
        """A normal message still gets the greeting through REST."""
        texts = self.rest(unique("alive"), "你好")
        assert texts and GREETING in texts[0], texts

    # -- Telegram ----------------------------------------------------------------------------

    def telegram(
        self, raw: bytes, secret: str | None = TELEGRAM_SECRET, content_type: str | None = None
    ) -> Answer:
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        return http(
            self.telegram_url,
            raw,
            headers=headers,
            content_type=content_type or "application/json",
        )

    def telegram_text(self, user_id: int, text: str) -> list[str]:
        """The texts the Telegram user gets through the Bot API for a private text message."""
        before = len(self.bot_api.calls_for(user_id))
        body = {
            "update_id": next(_ids),
            "message": {
                "message_id": next(_ids) % 100_000,
                "from": {"id": user_id, "is_bot": False, "first_name": "Alice"},
                "chat": {"id": user_id, "first_name": "Alice", "type": "private"},
                "date": int(time.time()),
                "text": text,
            },
        }
        answer = self.telegram(as_json(body))
        assert answer.status == 200, answer
        return [call["text"] for call in self.bot_api.calls_for(user_id)[before:]]

    # -- WeChat ------------------------------------------------------------------------------

    def wechat(
        self,
        body: bytes,
        query: dict[str, str] | None = None,
        content_type: str | None = "text/xml",
    ) -> Answer:
        params = signed_query() if query is None else query
        return http(
            f"{self.wechat_url}?{urllib.parse.urlencode(params)}",
            body,
            content_type=content_type,
        )

    def wechat_text(self, openid: str, content: str) -> str | None:
        """The passive reply to a text message; None for "success" (pushed through the API)."""
        xml = TEXT_XML.format(
            account=ACCOUNT,
            openid=openid,
            created=int(time.time()),
            content=content.replace("]]>", "]]]]><![CDATA[>"),
            msg_id=next(_ids),
        )
        answer = self.wechat(xml.encode())
        assert answer.status == 200, answer
        if answer.text in ("", "success"):
            return None
        return parse_xml(answer.body)["Content"]

    # -- the agent console and Rasa's API ------------------------------------------------------

    def login(self) -> str:
        answer = http(f"{self.agent_api}/login", as_json({"username": AGENT, "password": PASSWORD}))
        assert answer.status == 200, answer
        return str(answer.json()["token"])

    def agent(
        self,
        path: str,
        body: bytes | None = None,
        token: str | None = None,
        content_type: str | None = "application/json",
        method: str | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http(
            f"{self.agent_api}{path}",
            body,
            headers=headers,
            content_type=content_type,
            method=method,
        )

    def rasa_api(
        self,
        path: str,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        token: str | None = None,
    ) -> Answer:
        return http(
            f"{self.base_url}{path}",
            body,
            headers={"Authorization": f"Bearer {token or rasa_jwt()}"},
            content_type=content_type,
        )

    # -- stores ------------------------------------------------------------------------------

    def tables(self, database: str) -> set[str]:
        with sqlite3.connect(self.local.workdir / database) as db:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {row[0] for row in rows}

    def rows(self, database: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.local.workdir / database) as db:
            return db.execute(query, params).fetchall()


def rasa_jwt(role: str = "admin") -> str:
    """An HS256 JWT as Rasa's API checks it (``user.role``)."""
    claims = {"user": {"username": "ops", "role": role}, "exp": int(time.time()) + 600}
    return jwt.encode(claims, API_JWT_SECRET, algorithm="HS256")


class WidgetClient:
    """A logged-in widget: a synchronous socket.io client over long polling."""

    def __init__(self, stack: HostileStack, account_id: str) -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False, request_timeout=TIMEOUT)
        self.client.on("bot_uttered", self._on_bot)
        self.client.connect(
            stack.base_url,
            socketio_path="/socket.io",
            transports=["polling"],
            auth={"token": widget_token(account_id, minutes=30)},
            wait_timeout=TIMEOUT,
        )

    def _on_bot(self, message: Any) -> None:
        with self._lock:
            self.received.append(message if isinstance(message, dict) else {"raw": message})

    def texts(self) -> list[str]:
        with self._lock:
            return [str(m.get("text", "")) for m in self.received]

    def emit(self, payload: Any, timeout: float = TIMEOUT) -> None:
        """Emits ``user_uttered`` and waits until the server has handled it (its ack)."""
        self.client.call("user_uttered", payload, timeout=timeout)

    def say(self, text: str) -> list[str]:
        """The texts the bot sends back for ``text``."""
        before = len(self.texts())
        self.emit({"message": text})
        deadline = time.monotonic() + TIMEOUT
        while len(self.texts()) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.texts()[before:]

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def our_tracebacks(log: str) -> list[str]:
    """The tracebacks in a log that pass through the assistant's own code."""
    lines = log.splitlines()
    found = []
    for index, line in enumerate(lines):
        if "Traceback (most recent call last):" not in line:
            continue
        block = [line]
        for following in lines[index + 1 :]:
            block.append(following)
            if not following.startswith(" "):
                break  # the exception line ends the traceback
        text = "\n".join(block)
        if OUR_FRAME.search(text):
            found.append(text)
    return found
