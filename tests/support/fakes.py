"""Telegram's Bot API and WeChat's API on loopback, recording what the assistant sends them.

``with FakePlatforms.running() as platforms:`` serves both from one local HTTP server, and
``platforms.env()`` holds the settings that configure both channels against it (the tokens and
secrets below; WeChat in plaintext mode, or safe mode with ``aes=True``). It keeps connections
open between calls (HTTP/1.1), as the platforms do, and counts those its clients open and close.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TELEGRAM_TOKEN = "123456:TEST-bot-token"
TELEGRAM_SECRET = "webhook-secret_0123456789"
WECHAT_TOKEN = "wechat-test-token"
WECHAT_APP_ID = "wx2c2769f8efd9abc2"
WECHAT_APP_SECRET = "wechat-test-app-secret"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_ACCOUNT = "gh_10f6c3c3ac5a"  # the Official Account's original id (ToUserName)


@dataclass(frozen=True)
class ApiCall:
    """A call to WeChat's API."""

    path: str
    query: dict[str, str]
    body: Any


class FakePlatforms:
    """Answers Bot API calls (POST /bot<token>/<method>) as Telegram does, and issues access
    tokens and takes customer-service messages as WeChat does."""

    def __init__(self) -> None:
        self.telegram_calls: list[tuple[str, dict[str, Any]]] = []
        self.wrong_token_calls = 0
        self.wechat_calls: list[ApiCall] = []
        self.valid_tokens: set[str] = set()
        self.issued = 0
        self.opened = 0
        self.closed = 0
        self.lock = threading.Lock()
        platforms = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with platforms.lock:
                    platforms.opened += 1

            def finish(self) -> None:
                super().finish()
                with platforms.lock:
                    platforms.closed += 1

            def log_message(self, *_: Any) -> None:
                pass

            def answer(self, body: dict[str, Any], content_type: str) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                self.wfile.flush()

            def handle_call(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if url.path.startswith("/bot"):
                    self.answer(platforms._telegram(url.path, raw), "application/json")
                else:
                    query = dict(urllib.parse.parse_qsl(url.query))
                    self.answer(platforms._wechat(url.path, query), "text/plain")
                    # Recorded once answered: a caller that sees the call sees its answer sent.
                    body = json.loads(raw.decode("utf-8")) if raw else None
                    with platforms.lock:
                        platforms.wechat_calls.append(ApiCall(url.path, query, body))

            do_GET = handle_call
            do_POST = handle_call

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[FakePlatforms]:
        platforms = cls()
        thread = threading.Thread(target=platforms.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield platforms
        finally:
            platforms.server.shutdown()
            platforms.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self, aes: bool = False) -> dict[str, str]:
        """Telegram and WeChat configured against these fakes, by environment variables alone."""
        return {
            "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": self.url,
            "WECHAT_TOKEN": WECHAT_TOKEN,
            "WECHAT_APP_ID": WECHAT_APP_ID,
            "WECHAT_APP_SECRET": WECHAT_APP_SECRET,
            "WECHAT_API_URL": self.url,
            "WECHAT_AES_KEY": WECHAT_AES_KEY if aes else "",
        }

    # --- Telegram ------------------------------------------------------------------------------

    def _telegram(self, path: str, raw: bytes) -> dict[str, Any]:
        prefix, _, method = path.lstrip("/").partition("/")
        with self.lock:
            if prefix == f"bot{TELEGRAM_TOKEN}":
                self.telegram_calls.append((method, json.loads(raw or b"{}")))
            else:
                self.wrong_token_calls += 1
        return {"ok": True, "result": True}

    def calls_for(self, chat_id: int, method: str = "sendMessage") -> list[dict[str, Any]]:
        """The bodies of the Bot API calls of ``method`` to the chat."""
        with self.lock:
            return [
                b for m, b in self.telegram_calls if m == method and b.get("chat_id") == chat_id
            ]

    def answered_queries(self) -> list[str]:
        with self.lock:
            return [
                b["callback_query_id"] for m, b in self.telegram_calls if m == "answerCallbackQuery"
            ]

    # --- WeChat --------------------------------------------------------------------------------

    def _wechat(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            if path == "/cgi-bin/token":
                if query.get("appid") != WECHAT_APP_ID or query.get("secret") != WECHAT_APP_SECRET:
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

    def snapshot(self) -> list[ApiCall]:
        with self.lock:
            return list(self.wechat_calls)

    def token_calls(self) -> list[ApiCall]:
        return [c for c in self.snapshot() if c.path == "/cgi-bin/token"]

    def sent(self, openid: str) -> list[ApiCall]:
        return [
            c
            for c in self.snapshot()
            if c.path == "/cgi-bin/message/custom/send" and c.body and c.body["touser"] == openid
        ]

    def texts(self, openid: str) -> list[str]:
        """The customer-service texts sent to ``openid``."""
        return [c.body["text"]["content"] for c in self.sent(openid)]

    def wait_for_texts(self, openid: str, before: int, timeout: float = 30) -> list[str]:
        """The texts sent to ``openid`` after its first ``before``, once one has arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.texts(openid)) == before:
            time.sleep(0.1)
        time.sleep(0.5)  # the rest of the turn's messages
        return self.texts(openid)[before:]

    def wait_for_text(self, openid: str, fragment: str, timeout: float = 30) -> list[str]:
        """The texts sent to ``openid``, once one holds ``fragment``."""
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
