"""The in-app chat widget's channel: its page, and conversations over socket.io.

A wallet app opens ``/webhooks/widget/chat`` in a WebView and the page (``static/widget.html``
with its ``widget.js`` and ``widget.css``: no inline script or style, for the CSP) connects to
socket.io (path ``/socket.io``, ``sockets``) with ``auth: {token}``. The token is verified at
connect (``bot.channels.widget_auth``); a missing, forged or expired one is refused with the
reason. The conversation is chosen by the server from the token's subject, so a client cannot
write into anyone else's conversation (Rasa's own socket.io channel lets a client pick any
session id), and every message carries the account's signed identity. On (re)connect the page
gets the conversation's recent history. Handshakes are limited per client address
(``bot.channels.limits``); the owner manages the account's bindings here (``bindings``), and
``notify_owner`` tells the owner's conversation when a platform user is bound.

Typing shows both ways while a human agent handles the conversation. The console's typing call
reaches ``show_typing`` (through ``bot.handoff.delivery``), which tells every tab of the
conversation, on whichever server it is connected (the rooms). The page sends ``user_typing``
``{typing}`` as the user types, at most once every 3 s, and ``false`` when the box is cleared or
the message sent; it cannot tell an agent's message from the bot's, so it sends whoever answers:
the server writes it only into an open ticket of the socket's own conversation (a conditional
update, nothing for a conversation with the bot), for ``USER_TYPING_FOR``, and drops what comes
too often (``TypingGate``) or is not ``{typing: true|false}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio import exceptions as socketio_errors

from bot.channels.intake import take_turn
from bot.channels.limits import WIDGET_HANDSHAKES
from bot.channels.responses import render
from bot.channels.widget.bindings import OwnerBindings
from bot.channels.widget.sockets import (
    BOT_EVENT,
    WidgetOutput,
    address_of,
    socket_server,
    widget_message,
)
from bot.channels.widget_auth import TokenRejected, WidgetAuth
from bot.handoff.delivery import Delivery
from bot.identity import IDENTITY_FIELD, sign_identity
from bot.privacy import mask_account_id
from bot.services import services_of, use_services

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parents[1] / "static"
SOCKET_CLIENT = (
    Path(__file__).resolve().parents[3]
    / "web"
    / "node_modules"
    / "socket.io-client"
    / "dist"
    / "socket.io.min.js"
)
SCRIPT = "application/javascript; charset=utf-8"
HISTORY_LENGTH = 40
TOO_MANY_CONNECTIONS = "too many connections"
TOKEN_EXPIRED = "token expired"
# The page refreshes its typing every 3 s: the agent sees it until a refresh is overdue.
USER_TYPING_FOR = timedelta(seconds=6)


def conversation_of(account_id: str, secret: bytes) -> str:
    """The one widget conversation of an account: keyed, so it can be neither read nor guessed."""
    return "widget:" + hmac.new(secret, account_id.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class WidgetSession:
    """A connected socket: its account, when its token expires and its client address."""

    account_id: str
    expires: int
    address: str


@dataclass(frozen=True)
class _Typed:
    """The last typing signal of a conversation that was written, and the writes left then."""

    typing: bool
    at: float
    allowance: float


class TypingGate:
    """Which of a conversation's typing signals are written: the same state again only after
    ``repeat_after`` seconds (the page repeats every 3 s); a change at once, but no more than
    ``burst`` writes together and ``per_second`` after that, whatever a client sends.
    """

    def __init__(
        self, repeat_after: float = 2.0, burst: float = 4.0, per_second: float = 1.0
    ) -> None:
        self._repeat_after = repeat_after
        self._burst = burst
        self._per_second = per_second
        self._last: dict[str, _Typed] = {}  # conversation -> its last written signal

    def admits(self, conversation: str, typing: bool, now: float) -> bool:
        last = self._last.get(conversation)
        allowance = self._burst
        if last is not None:
            if last.typing == typing and now - last.at < self._repeat_after:
                return False
            allowance = min(self._burst, last.allowance + (now - last.at) * self._per_second)
            if allowance < 1:
                return False
        self._last[conversation] = _Typed(typing, now, allowance - 1)
        return True

    def forget(self, conversation: str) -> None:
        """The next signal is written whatever came before (the user sent their message)."""
        self._last.pop(conversation, None)


class WidgetChannel(InputChannel):
    """Registered in credentials.yml as ``bot.channels.widget.WidgetChannel``."""

    @classmethod
    def name(cls) -> str:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WidgetChannel:
        return cls()

    def __init__(self) -> None:
        self.sio: AsyncServer | None = None
        # The key of conversation_of and the signing secret, known once the server starts.
        self.conversation_key: bytes | None = None
        self._identity_secret: bytes | None = None
        self._app: Sanic | None = None
        self._bindings: OwnerBindings | None = None
        self._sessions: dict[str, WidgetSession] = {}  # socket id -> its session
        self._typing = TypingGate()

    def get_output_channel(self) -> OutputChannel | None:
        return WidgetOutput(self.sio) if self.sio is not None else None

    async def show_typing(self, conversation_id: str, typing: bool) -> None:
        """The conversation's agent is typing (or stopped): for ``Delivery.typing``."""
        if self.sio is not None:
            await WidgetOutput(self.sio).show_typing(conversation_id, typing)

    def conversation(self, account_id: str) -> str:
        if self.conversation_key is None:
            raise RuntimeError("the widget channel is not started")
        return conversation_of(account_id, self.conversation_key)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        auth = WidgetAuth.from_env()
        sio = socket_server()
        self.sio = sio
        widget = SocketBlueprint(sio, "/socket.io", "im_widget", __name__)
        use_services(widget)

        @widget.listener("before_server_start")
        async def start(app: Sanic, _: Any) -> None:
            services = services_of(app)
            self._app = app
            self._identity_secret = services.identity.secret
            if self._identity_secret is None:
                logger.warning(
                    "IDENTITY_SECRET is not set: widget users will get general help only"
                )
            self.conversation_key = self._identity_secret or auth.key.encode()
            self._bindings = OwnerBindings(sio, self.conversation_key, services, self._tell)

        @widget.route("/chat", methods=["GET"])
        async def chat_page(_: Request) -> HTTPResponse:
            return response.html((STATIC / "widget.html").read_text(encoding="utf-8"))

        @widget.route("/widget.js", methods=["GET"])
        async def page_script(_: Request) -> HTTPResponse:
            return await response.file(STATIC / "widget.js", mime_type=SCRIPT)

        @widget.route("/widget.css", methods=["GET"])
        async def page_style(_: Request) -> HTTPResponse:
            return await response.file(STATIC / "widget.css", mime_type="text/css; charset=utf-8")

        @widget.route("/socket.io.min.js", methods=["GET"])
        async def socket_client(_: Request) -> HTTPResponse:
            return await response.file(SOCKET_CLIENT, mime_type=SCRIPT)

        @sio.on("connect")
        async def connect(sid: str, environ: Any, auth_data: Any = None) -> None:
            address = address_of(environ)
            limits = services_of(self._started()).limits
            admission = await limits.address_admitted(
                "widget-handshake", address, WIDGET_HANDSHAKES
            )
            if not admission.admitted:
                if admission.first_refusal:
                    logger.warning("widget handshakes over the limit from one client address")
                raise socketio_errors.ConnectionRefusedError(TOO_MANY_CONNECTIONS)
            token = auth_data.get("token") if isinstance(auth_data, dict) else None
            try:
                account_id, expires = auth.account_of(token)
            except TokenRejected as error:
                logger.info("widget connection refused: %s", error.detail)
                raise socketio_errors.ConnectionRefusedError(str(error)) from None
            self._sessions[sid] = WidgetSession(account_id, expires, address)
            conversation = self.conversation(account_id)
            await sio.enter_room(sid, conversation)
            history = await recent_messages(self._started().ctx.agent, conversation)
            await sio.emit("history", history, to=sid)

        @sio.on("disconnect")
        async def disconnect(sid: str, *_: Any) -> None:
            session = self._sessions.pop(sid, None)
            if session is not None:
                self._typing.forget(self.conversation(session.account_id))

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: Any = None) -> None:
            session = await self._valid_session(sid)
            if session is None:
                return
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(text, str):
                return
            conversation = self.conversation(session.account_id)
            # The turn ends the user's typing in the ticket (``TicketStore.user_wrote``).
            self._typing.forget(conversation)
            secret = self._identity_secret
            metadata = (
                {IDENTITY_FIELD: sign_identity(secret, session.account_id, conversation)}
                if secret
                else None
            )
            message = UserMessage(
                text, WidgetOutput(sio), conversation, input_channel=self.name(), metadata=metadata
            )
            await take_turn(self._started(), message, address=session.address)

        @sio.on("user_typing")
        async def user_typing(sid: str, data: Any = None, *_: Any) -> None:
            session = await self._valid_session(sid)
            typing = data.get("typing") if isinstance(data, dict) else None
            if session is None or not isinstance(typing, bool):
                return
            conversation = self.conversation(session.account_id)
            if self._typing.admits(conversation, typing, time.monotonic()):
                await self._record_typing(conversation, typing)

        @sio.on("binding_code_request")
        async def binding_code(sid: str, _: Any = None) -> None:
            session = self._session_of(sid)
            if session is not None:
                await self._owner().issue_code(sid, session.account_id, session.address)

        @sio.on("bindings_request")
        async def bindings_request(sid: str, _: Any = None) -> None:
            session = self._session_of(sid)
            if session is not None and await self._admitted(session):
                await self._owner().send(sid, session.account_id)

        @sio.on("unbind")
        async def unbind(sid: str, data: Any = None) -> None:
            session = self._session_of(sid)
            key = data.get("key") if isinstance(data, dict) else None
            if session is None or not isinstance(key, str):
                return
            if await self._admitted(session):
                await self._owner().unbind(sid, session.account_id, key)

        return widget

    def _started(self) -> Sanic:
        if self._app is None:
            raise RuntimeError("the widget channel is not started")
        return self._app

    def _owner(self) -> OwnerBindings:
        if self._bindings is None:
            raise RuntimeError("the widget channel is not started")
        return self._bindings

    def _session_of(self, sid: str) -> WidgetSession | None:
        """The socket's session while its token is valid; an expired one is dropped."""
        session = self._sessions.get(sid)
        if session is None:
            return None
        if session.expires <= time.time():
            self._sessions.pop(sid, None)
            return None
        return session

    async def _valid_session(self, sid: str) -> WidgetSession | None:
        """The socket's session; a socket whose token expired is told so and let go."""
        session = self._session_of(sid)
        if session is None and self.sio is not None:
            await self.sio.emit("refused", TOKEN_EXPIRED, to=sid)
            await self.sio.disconnect(sid)
        return session

    async def _record_typing(self, conversation: str, typing: bool) -> None:
        """The user's typing, in the conversation's open ticket if it has one (else nothing)."""
        until = datetime.now(timezone.utc) + USER_TYPING_FOR if typing else None
        tickets = services_of(self._started()).handoff.tickets
        try:
            await asyncio.to_thread(tickets.typing, conversation, "user", until)
        except Exception:
            # Only an indicator: the conversation goes on without it.
            logger.exception("could not record typing in conversation %s", conversation)

    async def _admitted(self, session: WidgetSession) -> bool:
        """Whether the account's conversation is within its rate (as its messages are)."""
        limits = services_of(self._started()).limits
        return (await limits.sender_admitted(self.conversation(session.account_id))).admitted

    async def _tell(self, sid: str, account_id: str, name: str, **values: Any) -> None:
        """The response ``name`` to this socket only, kept out of the conversation."""
        agent = self._started().ctx.agent
        rendered = await render(agent, self.conversation(account_id), name, self.name(), **values)
        if self.sio is not None:
            await self.sio.emit(BOT_EVENT, {"text": rendered.get("text", "")}, to=sid)


async def notify_owner(app: Sanic, account_id: str, response: str, **values: Any) -> None:
    """Tells the account's widget conversation ``response``: kept in it, pushed to open tabs.

    For news the owner must see (a platform user was bound to the account). Never raises: the
    caller has already done what it reports.
    """
    widget = next(
        (c for c in getattr(app.ctx, "input_channels", ()) if isinstance(c, WidgetChannel)), None
    )
    if widget is None or widget.conversation_key is None:
        logger.warning("no widget channel: account %s not told", mask_account_id(account_id))
        return
    try:
        outbox = services_of(app).handoff.outbox
        delivery = Delivery(app.ctx.agent, app.ctx.input_channels, outbox)
        await delivery.send_response(
            widget.conversation(account_id), response, channel=widget.name(), **values
        )
    except Exception:
        logger.exception(
            "could not tell account %s about %s", mask_account_id(account_id), response
        )


async def recent_messages(agent: Any, conversation: str) -> list[dict[str, Any]]:
    """The conversation's latest user and bot messages, oldest first, for the page's history."""
    tracker = await agent.tracker_store.retrieve(conversation)
    lines: list[dict[str, Any]] = []
    for event in tracker.events if tracker else []:
        if isinstance(event, UserUttered) and event.text:
            lines.append({"role": "user", "text": event.text})
        elif isinstance(event, BotUttered) and event.text:
            lines.append({"role": "bot", **widget_message({**event.data, "text": event.text})})
    return lines[-HISTORY_LENGTH:]
