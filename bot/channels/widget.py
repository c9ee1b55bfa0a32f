"""The in-app chat widget: socket.io, authenticated by the wallet backend's JWT.

A wallet app opens ``/webhooks/widget/chat`` in a WebView and the page connects to socket.io
(path ``/socket.io``) with ``auth: {token}``. The token is verified at connect; a missing, forged
or expired one is refused with the reason. The conversation is chosen by the server from the
token's subject, so a client cannot write into anyone else's conversation (Rasa's own socket.io
channel lets a client pick any session id), and every message carries the account's signed
identity. On (re)connect the page gets the conversation's recent history. Behind a load balancer
with several servers, REDIS_URL makes the socket.io rooms shared (python-socketio's Redis
manager): a reply or an agent's message produced on one server reaches the widget connected to
another, without sticky sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer
from socketio import exceptions as socketio_errors

from bot.channels.binding import binding_store
from bot.channels.intake import take_turn
from bot.channels.responses import render
from bot.channels.widget_auth import TokenRejected, WidgetAuth
from bot.identity import IDENTITY_FIELD, sign_identity

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
BOT_EVENT = "bot_uttered"
ROOMS_CHANNEL = "im-widget"
HISTORY_LENGTH = 40
BINDING_CODE_MINUTES = 10


def shared_rooms(env: Mapping[str, str] = os.environ) -> AsyncRedisManager | None:
    """With REDIS_URL, a message for a conversation reaches its widget on whichever server."""
    url = env.get("REDIS_URL")
    return AsyncRedisManager(url, channel=ROOMS_CHANNEL) if url else None


def conversation_of(account_id: str, secret: bytes) -> str:
    """The one widget conversation of an account: keyed, so it can be neither read nor guessed."""
    return "widget:" + hmac.new(secret, account_id.encode(), hashlib.sha256).hexdigest()[:32]


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

    def get_output_channel(self) -> OutputChannel | None:
        return WidgetOutput(self.sio) if self.sio is not None else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        auth = WidgetAuth.from_env()
        identity_secret = os.environ.get("IDENTITY_SECRET", "").encode()
        if not identity_secret:
            logger.warning("IDENTITY_SECRET is not set: widget users will get general help only")
        sio = AsyncServer(
            async_mode="sanic", cors_allowed_origins=[], client_manager=shared_rooms()
        )
        self.sio = sio
        widget = SocketBlueprint(sio, "/socket.io", "im_widget", __name__)
        server: dict[str, Any] = {}  # the Sanic app, once it starts
        sessions: dict[str, tuple[str, int]] = {}  # socket id -> (account id, token expiry)
        conversation_key = identity_secret or auth.key.encode()

        def account_for(sid: str) -> str | None:
            """The socket's account while its token is valid; an expired one is dropped."""
            session = sessions.get(sid)
            if session is None:
                return None
            if session[1] <= time.time():
                sessions.pop(sid, None)
                return None
            return session[0]

        @widget.listener("before_server_start")
        async def remember_app(app: Any, _: Any) -> None:
            server["app"] = app

        @widget.route("/chat", methods=["GET"])
        async def chat_page(_: Request) -> HTTPResponse:
            return response.html((STATIC / "widget.html").read_text(encoding="utf-8"))

        @widget.route("/socket.io.min.js", methods=["GET"])
        async def socket_client(_: Request) -> HTTPResponse:
            return await response.file(SOCKET_CLIENT, mime_type="application/javascript")

        @sio.on("connect")
        async def connect(sid: str, environ: Any, auth_data: Any = None) -> None:
            token = auth_data.get("token") if isinstance(auth_data, dict) else None
            try:
                account_id, expires = auth.account_of(token)
            except TokenRejected as error:
                logger.info("widget connection refused: %s", error)
                raise socketio_errors.ConnectionRefusedError(str(error)) from None
            sessions[sid] = (account_id, expires)
            conversation = conversation_of(account_id, conversation_key)
            entered = sio.enter_room(sid, conversation)
            if inspect.isawaitable(entered):
                await entered
            history = await recent_messages(server["app"].ctx.agent, conversation)
            await sio.emit("history", history, to=sid)

        @sio.on("disconnect")
        async def disconnect(sid: str) -> None:
            sessions.pop(sid, None)

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: Any = None) -> None:
            account_id = account_for(sid)
            if account_id is None:
                await sio.emit("refused", "token expired", to=sid)
                await sio.disconnect(sid)
                return
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(text, str):
                return
            conversation = conversation_of(account_id, conversation_key)
            metadata = (
                {IDENTITY_FIELD: sign_identity(identity_secret, account_id, conversation)}
                if identity_secret
                else None
            )
            output = WidgetOutput(sio)
            message = UserMessage(
                text, output, conversation, input_channel=self.name(), metadata=metadata
            )
            await take_turn(server["app"], message)

        @sio.on("binding_code_request")
        async def binding_code(sid: str, _: Any = None) -> None:
            account_id = account_for(sid)
            if account_id is None:
                return
            code = binding_store().issue_code(account_id, timedelta(minutes=BINDING_CODE_MINUTES))
            rendered = await render(
                server["app"].ctx.agent,
                conversation_of(account_id, conversation_key),
                "utter_binding_code",
                self.name(),
                code=code,
                minutes=BINDING_CODE_MINUTES,
            )
            await sio.emit(BOT_EVENT, {"text": rendered.get("text", "")}, to=sid)

        return widget


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
