"""Stand-ins for the platforms' APIs (Telegram's Bot API, WeChat's API) on loopback, and platform
channels served in-process: a Sanic server in a thread with the project's domain and no model,
enough for everything a channel answers by itself (welcome, unsupported content, binding)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bot.channels.wechat.crypto import sha1_signature
from bot.services import Services
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

BOT_TOKEN = "123456:TEST-bot-token"
BOT_SECRET = "webhook-secret_0123456789"

WECHAT_TOKEN = "wechat-test-token"
APP_ID = "wx2c2769f8efd9abc2"
APP_SECRET = "wechat-test-app-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_10f6c3c3ac5a"  # the Official Account's original id (ToUserName)

# Message formats as in WeChat's documentation (接收普通消息 / 接收事件推送).
TEXT_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>"
    "<MsgDataId>xxxx</MsgDataId><Idx>xxxx</Idx></xml>"
)
IMAGE_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{created}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
    "<PicUrl><![CDATA[http://mmbiz.qpic.cn/pic]]></PicUrl><MediaId><![CDATA[media_id]]></MediaId>"
    "<MsgId>{msg_id}</MsgId></xml>"
)
VOICE_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{created}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
    "<MediaId><![CDATA[media_id]]></MediaId><Format><![CDATA[amr]]></Format>"
    "<MsgId>{msg_id}</MsgId></xml>"
)
EVENT_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[{event}]]></Event></xml>"
)
msg_ids = iter(range(6054768590064713728, 6054768590064813728))


def signed_query(
    *, timestamp: int | None = None, nonce: str | None = None, encrypted: str | None = None
) -> dict[str, str]:
    """The query of a WeChat callback, signed as WeChat does, with a fresh nonce unless given."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = str(secrets.randbelow(10**10)) if nonce is None else nonce
    query = {
        "signature": sha1_signature(WECHAT_TOKEN, stamp, nonce),
        "timestamp": stamp,
        "nonce": nonce,
    }
    if encrypted is not None:
        query["encrypt_type"] = "aes"
        query["msg_signature"] = sha1_signature(WECHAT_TOKEN, stamp, nonce, encrypted)
    return query


def http(
    url: str, query: dict[str, str], body: bytes | None = None, timeout: float = 30
) -> tuple[int, str]:
    """Calls a WeChat webhook as WeChat does (GET to verify, POST with a body); status and text."""
    request = urllib.request.Request(
        f"{url}?{urllib.parse.urlencode(query)}",
        data=body,
        headers={"Content-Type": "text/xml"} if body is not None else {},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# --- Telegram's Bot API ----------------------------------------------------------------------


class FakeBotApi:
    """Records Bot API calls (POST /bot<token>/<method>) and answers them as Telegram does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.wrong_token_calls = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                prefix, _, method = self.path.lstrip("/").partition("/")
                with fake._lock:
                    if prefix == f"bot{BOT_TOKEN}":
                        fake.calls.append((method, body))
                    else:
                        fake.wrong_token_calls += 1
                answer = json.dumps({"ok": True, "result": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls_for(self, chat_id: int, method: str = "sendMessage") -> list[dict[str, Any]]:
        with self._lock:
            return [b for m, b in self.calls if m == method and b.get("chat_id") == chat_id]

    def answered_queries(self) -> list[str]:
        with self._lock:
            return [b["callback_query_id"] for m, b in self.calls if m == "answerCallbackQuery"]


# --- WeChat's API ----------------------------------------------------------------------------


@dataclass
class ApiCall:
    path: str
    query: dict[str, str]
    body: Any
    connection: int  # which TCP connection it came on


@dataclass
class FakeWeChatApi:
    """api.weixin.qq.com on loopback: issues access tokens, takes customer-service messages.

    It keeps connections open between calls (HTTP/1.1), as WeChat does, and counts the
    connections opened and closed by clients."""

    calls: list[ApiCall] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    issued: int = 0
    opened: int = 0
    closed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with api.lock:
                    api.opened += 1
                    self.connection_number = api.opened

            def finish(self) -> None:
                super().finish()
                with api.lock:
                    api.closed += 1

            def log_message(self, *_: Any) -> None:
                pass

            def answer(self, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")  # as WeChat does
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def handle_call(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw.decode("utf-8")) if raw else None
                with api.lock:
                    answer = api.answer(url.path, query)
                self.answer(answer)
                self.wfile.flush()
                # Recorded once answered: a caller that sees the call sees its answer sent.
                with api.lock:
                    api.calls.append(ApiCall(url.path, query, body, self.connection_number))

            do_GET = handle_call
            do_POST = handle_call

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """WeChat's answer to a call (with the lock held)."""
        if path == "/cgi-bin/token":
            if query.get("appid") != APP_ID or query.get("secret") != APP_SECRET:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            self.issued += 1
            token = f"access-token-{self.issued}"
            self.valid_tokens.add(token)
            return {"access_token": token, "expires_in": 7200}
        if path == "/cgi-bin/message/custom/send":
            if query.get("access_token") not in self.valid_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            return {"errcode": 0, "errmsg": "ok"}
        return {"errcode": 404, "errmsg": "unknown api"}

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def snapshot(self) -> list[ApiCall]:
        with self.lock:
            return list(self.calls)

    def token_calls(self) -> list[ApiCall]:
        return [c for c in self.snapshot() if c.path == "/cgi-bin/token"]

    def sent(self, openid: str) -> list[ApiCall]:
        return [
            c
            for c in self.snapshot()
            if c.path == "/cgi-bin/message/custom/send" and c.body and c.body["touser"] == openid
        ]

    def texts(self, openid: str) -> list[str]:
        return [c.body["text"]["content"] for c in self.sent(openid)]

    def wait_for_text(self, openid: str, fragment: str, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = self.texts(openid)
            if any(fragment in text for text in texts):
                return texts
            time.sleep(0.1)
        raise AssertionError(f"no message with {fragment!r} for {openid}: {self.texts(openid)}")

    def wait_for_closed(self, count: int, timeout: float = 10) -> None:
        """Waits until clients closed ``count`` connections in all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.closed >= count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"{self.closed} of {self.opened} connections closed, not {count}")

    def revoke_tokens(self) -> None:
        """As when another server fetched a new token: the old one is refused with 40001."""
        with self.lock:
            self.valid_tokens.clear()


# --- platform channels in-process ------------------------------------------------------------

_apps = itertools.count()
STORES = ("TRACKER", "HANDOFF", "WALLET", "BINDING")


class InProcessSanic(Sanic):
    """Sanic rewrites its protocol's methods for each app it starts; in test mode it starts from
    the originals, so several apps can be served in one process."""

    test_mode = True


def domain_agent() -> Agent:
    """An agent with the project's domain and no model: it renders the responses a channel
    gives by itself, as the server's NLG does."""
    return Agent(domain=Domain.load(str(ROOT / "domain.yml")))


@contextmanager
def serving(*channels: InputChannel, agent: Agent) -> Iterator[str]:
    """The channels' routes on a Sanic server in a thread, mounted as Rasa mounts them
    (``/webhooks/<name>``), until the block ends and the server stops; its base URL. The
    server's stores are in a temporary directory."""
    app = InProcessSanic(f"platform-test-{next(_apps)}")
    app.ctx.agent = agent
    stores = tempfile.TemporaryDirectory()
    urls = {f"{name}_DB_URL": f"sqlite:///{stores.name}/{name}.db" for name in STORES}
    app.ctx.services = Services(Settings.from_env({**os.environ, **urls}))
    app.ctx.input_channels = list(channels)
    for channel in channels:
        app.blueprint(channel.blueprint(None), url_prefix=f"/webhooks/{channel.name()}")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()

    async def start() -> Any:
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.after_start()
        return server

    async def stop(server: Any) -> None:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(stop(server), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        stores.cleanup()
