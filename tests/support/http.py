"""The one HTTP client of the tests, and the people who use the assistant through it.

``Http`` speaks to a running server by its URL or to an in-process app (``tests.support.stack``)
with the same calls. ``RestUser`` chats over REST keeping its conversation token,
``AgentConsole`` is an agent logged in to the console's API, ``WidgetUser`` is the in-app widget
over socket.io (long polling).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from http.client import HTTPConnection
from typing import Any, Protocol

import socketio

from bot.channels.rest_tokens import TOKEN_HEADER

REST_PATH = "/webhooks/rest/webhook"
CONSOLE_API = "/webhooks/agent/api"
TIMEOUT = 30.0
# An argument left out (``None`` is a JSON body of its own).
_UNSET: Any = object()
_senders = itertools.count(1)
_addresses = itertools.count(1)


@dataclass(frozen=True)
class Login:
    """An agent's console login."""

    username: str
    name: str
    password: str


AGENT = Login("li", "小李", "a-long-agent-password")
# A lead reviews what the bot missed; no other test locks this name with failed logins.
LEAD = Login("lead-chen", "陈主管", "a-long-lead-password")


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, headers (names in lower case) and raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Transport(Protocol):
    """Sends one request; ``Http`` has one for sockets and in-process apps have their own."""

    def send(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        timeout: float,
    ) -> Answer: ...


@dataclass(frozen=True)
class Wire:
    """Requests over a socket to ``base_url``. An answer the server sends before reading the
    whole body (413) is returned too: the client stops sending and reads it, as HTTP allows."""

    base_url: str

    def send(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        timeout: float,
    ) -> Answer:
        parts = urllib.parse.urlsplit(self.base_url)
        connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        try:
            connection.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)  # str values go out as latin-1
            connection.endheaders()
            try:
                for start in range(0, len(body or b""), 65536):
                    connection.send((body or b"")[start : start + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early and closed; its answer is waiting
            reply = connection.getresponse()
            return Answer(
                reply.status,
                {name.lower(): value for name, value in reply.getheaders()},
                reply.read(),
            )
        finally:
            connection.close()


class Http:
    """HTTP calls to one server. Any status is an ``Answer``; a timeout or a connection the
    server drops raises (``OSError``, or ``TimeoutError`` in process). With ``address`` every
    request says it comes from there (X-Forwarded-For, as a trusted proxy would)."""

    def __init__(
        self, transport: Transport, address: str | None = None, timeout: float = TIMEOUT
    ) -> None:
        self.transport = transport
        self.address = address
        self.timeout = timeout

    @classmethod
    def to(cls, base_url: str, address: str | None = None) -> Http:
        return cls(Wire(base_url), address)

    def at(self, address: str) -> Http:
        """The same server, from another client address."""
        return Http(self.transport, address, self.timeout)

    def within(self, timeout: float) -> Http:
        """The same server, waiting at most ``timeout`` seconds for each answer."""
        return Http(self.transport, self.address, timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        json: Any = _UNSET,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Answer:
        if json is not _UNSET:
            body = _json_body(json)
        sent = [] if self.address is None else [("X-Forwarded-For", self.address)]
        if body is not None and content_type is not None:
            sent.append(("Content-Type", content_type))
        if body is not None:
            sent.append(("Content-Length", str(len(body))))
        sent += list((headers or {}).items())
        return self.transport.send(method, path, sent, body, timeout or self.timeout)

    def get(self, path: str, **options: Any) -> Answer:
        return self.request("GET", path, **options)

    def post(self, path: str, body: bytes | None = None, **options: Any) -> Answer:
        return self.request("POST", path, body, **options)


def fresh_address() -> str:
    """A client address no other request of the session claimed (198.18.0.0/15 is for tests)."""
    number = next(_addresses)
    return f"198.{18 + number // 65536 % 2}.{number // 256 % 256}.{number % 256}"


def _json_body(value: Any) -> bytes:
    """JSON as a client writes it; lone surrogates go out as ``\\ud800`` escapes."""
    return json.dumps(value).encode()


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [message.get("text") or "" for message in messages]


def buttons(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [button for message in messages for button in message.get("buttons") or []]


class RestUser:
    """A user of the REST channel, keeping the conversation token its first reply gives."""

    def __init__(self, http: Http, sender: str | None = None) -> None:
        self.http = http
        self.sender = sender or f"rest-user-{time.time_ns()}-{next(_senders)}"
        self.token: str | None = None

    def send(
        self, text: str, *, message_id: str | None = None, via: Http | None = None
    ) -> list[dict[str, Any]]:
        """The messages of the reply (through ``via``, another server of the same stores)."""
        body: dict[str, Any] = {"sender": self.sender, "message": text}
        if message_id is not None:
            body["message_id"] = message_id
        headers = {TOKEN_HEADER: self.token} if self.token else {}
        answer = (via or self.http).post(REST_PATH, json=body, headers=headers)
        assert answer.status == 200, answer
        self.token = self.token or answer.headers.get(TOKEN_HEADER.lower())
        return list(answer.json())

    def say(self, text: str, **options: Any) -> list[str]:
        """The texts of the reply."""
        return texts(self.send(text, **options))


class AgentConsole:
    """An agent logged in to the console's JSON API."""

    def __init__(self, http: Http, login: Login = AGENT) -> None:
        self.http = http
        answer = http.post(
            f"{CONSOLE_API}/login", json={"username": login.username, "password": login.password}
        )
        assert answer.status == 200, answer
        self.token = str(answer.json()["token"])

    def call(self, method: str, path: str, body: Any = _UNSET) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, f"{CONSOLE_API}{path}", json=body, headers=headers)

    def get(self, path: str) -> Any:
        answer = self.call("GET", path)
        assert answer.status == 200, answer
        return answer.json()

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        answer = self.call("POST", path, body or {})
        return answer.status, answer.json() if answer.body else None

    def ticket_of(self, conversation_id: str) -> dict[str, Any]:
        tickets = [
            t for t in self.get("/queue")["tickets"] if t["conversation_id"] == conversation_id
        ]
        assert tickets, f"no open ticket for {conversation_id}"
        return dict(tickets[0])


@dataclass
class WidgetUser:
    """The in-app widget of a running server: a socket.io client over long polling.

    ``address`` is sent as X-Forwarded-For, ``origin`` as Origin. The bot's texts arrive in
    ``texts``, the conversation shown on connecting in ``history``, bound platform users in
    ``listed``.
    """

    base_url: str
    address: str | None = None
    origin: str | None = None
    refusal: str | None = None
    texts: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    messages: list[dict[str, Any]] = field(default_factory=list)
    listed: asyncio.Queue[list[dict[str, Any]]] = field(default_factory=asyncio.Queue)
    history: list[dict[str, Any]] = field(default_factory=list)
    greeted: asyncio.Event = field(default_factory=asyncio.Event)
    client: socketio.AsyncClient = field(
        default_factory=lambda: socketio.AsyncClient(reconnection=False)
    )

    def __post_init__(self) -> None:
        self.client.on("bot_uttered", self._uttered)
        self.client.on("bindings", self.listed.put_nowait)
        self.client.on("history", self._history)
        self.client.on("connect_error", self._refused)

    def _uttered(self, message: Any) -> None:
        message = message if isinstance(message, dict) else {"text": str(message)}
        self.messages.append(message)
        self.texts.put_nowait(str(message.get("text") or ""))

    def _history(self, lines: list[dict[str, Any]]) -> None:
        self.history.extend(lines)
        self.greeted.set()

    def _refused(self, data: Any = None) -> None:
        self.refusal = data.get("message") if isinstance(data, dict) else str(data)

    async def open(self, token: str, timeout: float = 15) -> bool:
        """Whether the server accepted the connection; ``refusal`` says why not."""
        headers = {}
        if self.address:
            headers["X-Forwarded-For"] = self.address
        if self.origin:
            headers["Origin"] = self.origin
        try:
            await self.client.connect(
                self.base_url,
                socketio_path="/socket.io",
                transports=["polling"],
                auth={"token": token},
                headers=headers,
                wait_timeout=timeout,
            )
        except socketio.exceptions.ConnectionError:
            return False
        await asyncio.wait_for(self.greeted.wait(), timeout)  # the connect handler is done
        return True

    async def close(self, abort: bool = False) -> None:
        """Disconnects; ``abort`` does not wait for the last long poll (a session the server
        already dropped, e.g. after a refused payload, answers it only after its 25 s timeout)."""
        if abort:
            await self.client.eio.disconnect(abort=True)
        elif self.client.connected:
            await self.client.disconnect()

    async def text(self, timeout: float = TIMEOUT) -> str:
        return await asyncio.wait_for(self.texts.get(), timeout)

    async def text_with(self, fragment: str, timeout: float = TIMEOUT) -> str:
        """The next text that holds ``fragment``, skipping the others (all are in
        ``messages``)."""

        async def find() -> str:
            while fragment not in (text := await self.texts.get()):
                pass
            return text

        return await asyncio.wait_for(find(), timeout)

    async def quiet(self, seconds: float = 1.5) -> list[str]:
        """The texts that arrive until none has for ``seconds``."""
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(self.texts.get(), seconds))
            except asyncio.TimeoutError:
                return received

    async def call(self, payload: Any, timeout: float = 10) -> None:
        """Emits ``user_uttered`` and waits until the server has handled it (its ack)."""
        await self.client.call("user_uttered", payload, timeout=timeout)

    async def say(self, text: str, quiet: float = 1.5, timeout: float = TIMEOUT) -> list[str]:
        """The bot's texts for ``text``: the first within ``timeout``, then all until quiet."""
        await self.client.emit("user_uttered", {"message": text})
        return [await self.text(timeout), *await self.quiet(quiet)]

    async def bound(self) -> list[dict[str, Any]]:
        await self.client.emit("bindings_request", {})
        return await asyncio.wait_for(self.listed.get(), 15)
