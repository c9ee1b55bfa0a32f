"""Hostile input's reach into a server: every entry point as an attacker calls it, a widget
driven from synchronous tests, and the tracebacks of our own code in a server's logs.

``Entries`` wraps a stack (in process or served) with the repository's channels and the fake
platforms: REST, Telegram, WeChat in plaintext mode, the agent console and Rasa's HTTP API
(HS256 JWT), and reads the stack's SQLite stores.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot.channels.wechat.xml import parse_xml
from scripts.local_stack import widget_token
from tests.support.fakes import TELEGRAM_SECRET, FakePlatforms
from tests.support.http import AGENT, CONSOLE_API, REST_PATH, Answer, Http, WidgetUser
from tests.support.loop import LoopThread
from tests.support.platform_users import TelegramUser, WeChatUser, fresh_id
from tests.support.stack import rasa_jwt

T = TypeVar("T")
TIMEOUT = 10.0  # no entry point may keep a caller waiting longer than this
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


def as_json(value: Any) -> bytes:
    """JSON as a client writes it; lone surrogates go out as ``\\ud800`` escapes."""
    return json.dumps(value).encode()


def unique(prefix: str) -> str:
    """A conversation, account or user name no other test of this session used."""
    return f"{prefix}-{fresh_id()}"


def telegram_user_id() -> int:
    return 8_000_000_000 + fresh_id() % 10**9


@dataclass
class Entries:
    """Every entry point of one server, as an attacker reaches it; ``TIMEOUT`` for each call."""

    http: Http
    platforms: FakePlatforms
    workdir: Path
    _agent_token: str = ""

    def __post_init__(self) -> None:
        self.http = self.http.within(TIMEOUT)

    # -- REST --------------------------------------------------------------------------------

    def rest(self, sender: str, message: str) -> list[str]:
        """The texts a REST user gets back for ``message``."""
        answer = self.http.post(REST_PATH, json={"sender": sender, "message": message})
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
        """Posts a raw body to the Telegram webhook (with no secret header if ``secret`` is None)."""
        user = TelegramUser(self.http, self.platforms)
        return user.post(raw, secret=secret, content_type=content_type or "application/json")

    def telegram_text(self, user_id: int, text: str) -> list[str]:
        """The texts the Telegram user gets through the Bot API for a private text message."""
        return TelegramUser(self.http, self.platforms, user_id).say(text)

    # -- WeChat ------------------------------------------------------------------------------

    def wechat(
        self,
        body: bytes | None,
        query: dict[str, str] | None = None,
        content_type: str | None = "text/xml",
    ) -> Answer:
        return WeChatUser(self.http, self.platforms, "oHostile").post(body, query, content_type)

    def wechat_text(self, openid: str, content: str) -> str | None:
        """The passive reply to a text message; None for "success" (pushed through the API)."""
        user = WeChatUser(self.http, self.platforms, openid)
        content = content.replace("]]>", "]]]]><![CDATA[>")
        answer = user.post(
            user.xml(content=content, msg_id=fresh_id()).encode("utf-8", "surrogatepass")
        )
        assert answer.status == 200, answer
        if answer.text in ("", "success"):
            return None
        return parse_xml(answer.body)["Content"]

    # -- the agent console and Rasa's API ------------------------------------------------------

    @property
    def agent_token(self) -> str:
        """The token of the agent li, logged in once."""
        if not self._agent_token:
            answer = self.http.post(
                f"{CONSOLE_API}/login",
                json={"username": AGENT.username, "password": AGENT.password},
            )
            assert answer.status == 200, answer
            self._agent_token = str(answer.json()["token"])
        return self._agent_token

    def agent(
        self,
        path: str,
        body: bytes | None = None,
        token: str | None = None,
        content_type: str | None = "application/json",
        method: str | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.request(
            method or ("GET" if body is None else "POST"),
            f"{CONSOLE_API}{path}",
            body,
            headers=headers,
            content_type=content_type,
        )

    def rasa_api(
        self,
        path: str,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        token: str | None = None,
    ) -> Answer:
        return self.http.request(
            "GET" if body is None else "POST",
            path,
            body,
            headers={"Authorization": f"Bearer {token or rasa_jwt()}"},
            content_type=content_type,
        )

    # -- stores ------------------------------------------------------------------------------

    def tables(self, database: str) -> set[str]:
        with sqlite3.connect(self.workdir / database) as db:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {row[0] for row in rows}

    def rows(self, database: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.workdir / database) as db:
            return db.execute(query, params).fetchall()


@dataclass
class SyncWidget:
    """A logged-in widget user for synchronous tests; its socket lives in a thread of its own."""

    base_url: str
    account_id: str
    user: WidgetUser = field(init=False)
    _loop: LoopThread = field(init=False)

    def __post_init__(self) -> None:
        self._loop = LoopThread("widget")
        self.user = WidgetUser(self.base_url)
        opened = self._loop.run(self.user.open(widget_token(self.account_id, minutes=30)))
        assert opened, self.user.refusal

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = TIMEOUT + 5) -> T:
        return self._loop.run(coroutine, timeout)

    def texts(self) -> list[str]:
        return [str(message.get("text", "")) for message in list(self.user.messages)]

    def emit(self, payload: Any, timeout: float = TIMEOUT) -> None:
        """Emits ``user_uttered`` and waits until the server has handled it (its ack)."""
        self.run(self.user.call(payload, timeout))

    def say(self, text: str) -> list[str]:
        """The texts the bot sends back for ``text``."""
        before = len(self.user.messages)
        self.emit({"message": text})
        deadline = time.monotonic() + TIMEOUT
        while len(self.user.messages) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.texts()[before:]

    @property
    def connected(self) -> bool:
        return bool(self.user.client.connected)

    def close(self, abort: bool = False) -> None:
        try:
            self.run(self.user.close(abort), timeout=60)
        finally:
            self._loop.close()


@dataclass
class LogWindow:
    """What a running server's log files gained since the window opened."""

    paths: list[Path]
    start: dict[Path, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.start = {path: path.stat().st_size if path.exists() else 0 for path in self.paths}

    def text(self, path: Path) -> str:
        with path.open("rb") as log:
            log.seek(self.start[path])
            return log.read().decode("utf-8", "replace")


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
