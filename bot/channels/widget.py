"""The in-app chat widget: socket.io, authenticated by the wallet backend's JWT.

A wallet app opens ``/webhooks/widget/chat`` in a WebView and the page (``static/widget.html``
with its ``widget.js`` and ``widget.css``: no inline script or style, for the CSP) connects to
socket.io (path ``/socket.io``) with ``auth: {token}``. The token is verified at connect
(``bot.channels.widget_auth``); a missing, forged or expired one is refused with the reason. The
conversation is chosen by the server from the token's subject, so a client cannot write into
anyone else's conversation (Rasa's own socket.io channel lets a client pick any session id), and
every message carries the account's signed identity. On (re)connect the page gets the
conversation's recent history.

Browsers may connect only from the server's own origin or one of WIDGET_ALLOWED_ORIGINS
(comma-separated); a handshake without an ``Origin`` (a native WebView, a server) is allowed.
Handshakes and binding codes are limited per client address (``bot.channels.limits``), binding
codes per account too. The account owner gets binding codes for Telegram/WeChat, sees the
platform users bound to the account and can unbind them; ``notify_owner`` tells the owner's
conversation when one is bound.

Behind a load balancer with several servers, REDIS_URL makes the socket.io rooms shared
(python-socketio's Redis manager, JSON on the channel since 5.14): a reply or an agent's message
produced on one server reaches the widget connected to another, without sticky sessions.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer
from socketio import exceptions as socketio_errors

from bot.channels.binding import Binding, binding_store
from bot.channels.intake import take_turn
from bot.channels.limits import (
    BINDING_CODES,
    WIDGET_HANDSHAKES,
    address_admitted,
    client_of,
    rate_limiter,
    sender_admitted,
)
from bot.channels.responses import render
from bot.channels.widget_auth import TokenRejected, WidgetAuth
from bot.handoff.delivery import Delivery
from bot.handoff.store import handoff_store
from bot.identity import IDENTITY_FIELD, sign_identity
from bot.privacy import mask_account_id, mask_middle
from bot.support_hours import ConfigError

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SOCKET_CLIENT = (
    Path(__file__).resolve().parents[2]
    / "web"
    / "node_modules"
    / "socket.io-client"
    / "dist"
    / "socket.io.min.js"
)
SCRIPT = "application/javascript; charset=utf-8"
BOT_EVENT = "bot_uttered"
BINDINGS_EVENT = "bindings"
ROOMS_CHANNEL = "im-widget"
HISTORY_LENGTH = 40
BINDING_CODE_MINUTES = 10
TOO_MANY_CONNECTIONS = "too many connections"
CODES_TOO_OFTEN = "utter_binding_code_too_often"
UNBOUND = "utter_binding_removed"


def shared_rooms(env: Mapping[str, str] = os.environ) -> AsyncRedisManager | None:
    """With REDIS_URL, a message for a conversation reaches its widget on whichever server."""
    url = env.get("REDIS_URL")
    return AsyncRedisManager(url, channel=ROOMS_CHANNEL) if url else None


def conversation_of(account_id: str, secret: bytes) -> str:
    """The one widget conversation of an account: keyed, so it can be neither read nor guessed."""
    return "widget:" + hmac.new(secret, account_id.encode(), hashlib.sha256).hexdigest()[:32]


def allowed_origins(env: Mapping[str, str] = os.environ) -> frozenset[str]:
    """WIDGET_ALLOWED_ORIGINS: the other origins (``https://host[:port]``) pages may come from."""
    origins = set()
    for part in (env.get("WIDGET_ALLOWED_ORIGINS") or "").split(","):
        origin = part.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ConfigError(
                f"WIDGET_ALLOWED_ORIGINS must list origins like https://app.example.com, "
                f"not {origin!r}"
            )
        origins.add(origin.lower())
    return frozenset(origins)


def origin_check(allowed: frozenset[str]) -> Callable[[str | None, Mapping[str, Any]], bool]:
    """python-engineio's origin test: the server's own host, or one of ``allowed``.

    The own origin is the one whose host is the request's ``Host``, whatever the scheme (TLS may
    end at a proxy). A proxy that rewrites ``Host`` needs the public origin in ``allowed``.
    """

    def is_allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if not isinstance(origin, str) or not origin:
            return False
        normalised = origin.strip().rstrip("/").lower()
        if normalised in allowed:
            return True
        host = str(environ.get("HTTP_HOST") or "").strip().lower()
        return bool(host) and urlsplit(normalised).netloc == host

    return is_allowed


def address_of(environ: Mapping[str, Any]) -> str:
    """The client address of a socket.io handshake, as ``client_of`` gives it for HTTP.

    python-engineio's Sanic mode puts a fixed REMOTE_ADDR (127.0.0.1) in the environ; the Sanic
    request it keeps there has the peer.
    """
    return client_of(environ["sanic.request"])


def answer_leaving_long_polls(sio: AsyncServer) -> None:
    """Answers at once the long-polling GET a client still has open when it closes.

    python-engineio (4.15) holds that GET after the client's CLOSE until the poll times out
    (about 30 s), and python-socketio clients since 5.10 wait for it, in ``disconnect()`` and
    after a refused connect. An empty answer (what engine.io's own end of queue gives) releases
    both; sockets upgraded to WebSocket have no such GET.
    """
    eio = sio.eio
    forward = eio.handlers["disconnect"]

    async def disconnect(eio_sid: str, reason: Any = None) -> None:
        socket = eio.sockets.get(eio_sid)
        if reason == eio.reason.CLIENT_DISCONNECT and socket is not None and not socket.upgraded:
            socket.queue.put_nowait(None)
        await forward(eio_sid, reason)

    eio.on("disconnect", disconnect)


def masked_user_id(platform_user_id: str) -> str:
    """A platform user id the owner recognises but a screenshot does not give away."""
    if len(platform_user_id) <= 4:
        return "…"
    return mask_middle(platform_user_id, 2, 2)


@dataclass(frozen=True)
class WidgetSession:
    """A connected socket: its account, when its token expires and its client address."""

    account_id: str
    expires: int
    address: str


class WidgetOutput(OutputChannel):
    """Emits bot messages to every widget tab of the conversation."""

    def __init__(self, sio: AsyncServer) -> None:
        self._sio = sio

    @classmethod
    def name(cls) -> str:
        return "widget"

    async def _emit(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self._sio.emit(BOT_EVENT, message, room=recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._emit(recipient_id, {"text": text, "buttons": buttons})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"image": image})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._emit(recipient_id, {"custom": json_message})


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
        # The key of conversation_of, known once the blueprint is built.
        self.conversation_key: bytes | None = None

    def get_output_channel(self) -> OutputChannel | None:
        return WidgetOutput(self.sio) if self.sio is not None else None

    def conversation(self, account_id: str) -> str:
        if self.conversation_key is None:
            raise RuntimeError("the widget channel is not started")
        return conversation_of(account_id, self.conversation_key)

    def binding_key(self, binding: Binding) -> str:
        """An opaque handle of a binding for the page: the owner unbinds by it, ids stay masked."""
        message = f"{binding.platform}\x00{binding.platform_user_id}".encode()
        return hmac.new(self.conversation_key or b"", message, hashlib.sha256).hexdigest()[:24]

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        auth = WidgetAuth.from_env()
        identity_secret = os.environ.get("IDENTITY_SECRET", "").encode()
        if not identity_secret:
            logger.warning("IDENTITY_SECRET is not set: widget users will get general help only")
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=origin_check(allowed_origins()),
            cors_credentials=False,
            client_manager=shared_rooms(),
        )
        answer_leaving_long_polls(sio)
        self.sio = sio
        self.conversation_key = identity_secret or auth.key.encode()
        widget = SocketBlueprint(sio, "/socket.io", "im_widget", __name__)
        server: dict[str, Any] = {}  # the Sanic app, once it starts
        sessions: dict[str, WidgetSession] = {}  # socket id -> its session

        def session_of(sid: str) -> WidgetSession | None:
            """The socket's session while its token is valid; an expired one is dropped."""
            session = sessions.get(sid)
            if session is None:
                return None
            if session.expires <= time.time():
                sessions.pop(sid, None)
                return None
            return session

        async def tell(sid: str, account_id: str, name: str, **values: Any) -> None:
            """The response ``name`` to this socket only, kept out of the conversation."""
            rendered = await render(
                server["app"].ctx.agent, self.conversation(account_id), name, self.name(), **values
            )
            await sio.emit(BOT_EVENT, {"text": rendered.get("text", "")}, to=sid)

        async def send_bindings(sid: str, account_id: str) -> None:
            bound = await asyncio.to_thread(binding_store().bindings_of, account_id)
            listed = [
                {
                    "key": self.binding_key(binding),
                    "platform": binding.platform,
                    "user": masked_user_id(binding.platform_user_id),
                    "bound_at": binding.bound_at.isoformat(),
                }
                for binding in sorted(bound, key=lambda b: b.bound_at, reverse=True)
            ]
            await sio.emit(BINDINGS_EVENT, listed, to=sid)

        @widget.listener("before_server_start")
        async def remember_app(app: Any, _: Any) -> None:
            server["app"] = app

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
            admission = await address_admitted("widget-handshake", address, WIDGET_HANDSHAKES)
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
            sessions[sid] = WidgetSession(account_id, expires, address)
            conversation = self.conversation(account_id)
            await sio.enter_room(sid, conversation)
            history = await recent_messages(server["app"].ctx.agent, conversation)
            await sio.emit("history", history, to=sid)

        @sio.on("disconnect")
        async def disconnect(sid: str, *_: Any) -> None:
            sessions.pop(sid, None)

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: Any = None) -> None:
            session = session_of(sid)
            if session is None:
                await sio.emit("refused", "token expired", to=sid)
                await sio.disconnect(sid)
                return
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(text, str):
                return
            conversation = self.conversation(session.account_id)
            metadata = (
                {IDENTITY_FIELD: sign_identity(identity_secret, session.account_id, conversation)}
                if identity_secret
                else None
            )
            output = WidgetOutput(sio)
            message = UserMessage(
                text, output, conversation, input_channel=self.name(), metadata=metadata
            )
            await take_turn(server["app"], message, address=session.address)

        @sio.on("binding_code_request")
        async def binding_code(sid: str, _: Any = None) -> None:
            session = session_of(sid)
            if session is None:
                return
            admission = await address_admitted("binding-code", session.address, BINDING_CODES)
            if admission.admitted:
                admission = await rate_limiter().admit(
                    "binding-code-account", session.account_id, BINDING_CODES
                )
            if not admission.admitted:
                logger.warning(
                    "binding codes over the limit for account %s",
                    mask_account_id(session.account_id),
                )
                if admission.first_refusal:
                    await tell(sid, session.account_id, CODES_TOO_OFTEN)
                return
            code = await asyncio.to_thread(
                binding_store().issue_code,
                session.account_id,
                timedelta(minutes=BINDING_CODE_MINUTES),
            )
            await tell(
                sid,
                session.account_id,
                "utter_binding_code",
                code=code,
                minutes=BINDING_CODE_MINUTES,
            )

        @sio.on("bindings_request")
        async def bindings_request(sid: str, _: Any = None) -> None:
            session = session_of(sid)
            if session is None:
                return
            if (await sender_admitted(self.conversation(session.account_id))).admitted:
                await send_bindings(sid, session.account_id)

        @sio.on("unbind")
        async def unbind(sid: str, data: Any = None) -> None:
            session = session_of(sid)
            key = data.get("key") if isinstance(data, dict) else None
            if session is None or not isinstance(key, str):
                return
            account_id = session.account_id
            if not (await sender_admitted(self.conversation(account_id))).admitted:
                return
            bound = await asyncio.to_thread(binding_store().bindings_of, account_id)
            chosen = next((b for b in bound if hmac.compare_digest(self.binding_key(b), key)), None)
            if chosen is not None and await asyncio.to_thread(
                binding_store().unbind, account_id, chosen.platform, chosen.platform_user_id
            ):
                logger.info(
                    "account %s unbound a %s user", mask_account_id(account_id), chosen.platform
                )
                await tell(sid, account_id, UNBOUND)
            await send_bindings(sid, account_id)

        return widget


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
        delivery = Delivery(app.ctx.agent, app.ctx.input_channels, handoff_store().outbox)
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
            lines.append({"role": "bot", "text": event.text, "buttons": event.data.get("buttons")})
    return lines[-HISTORY_LENGTH:]
