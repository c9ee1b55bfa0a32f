"""The widget's socket.io server: who may connect, rooms shared by servers, messages out.

Browsers may connect only from the server's own origin or one of WIDGET_ALLOWED_ORIGINS
(comma-separated); a handshake without an ``Origin`` (a native WebView, a server) is allowed.
Behind a load balancer with several servers, REDIS_URL makes the socket.io rooms shared
(python-socketio's Redis manager, JSON on the channel since 5.14): a reply or an agent's message
produced on one server reaches the widget connected to another, without sticky sessions; so
does an agent's typing indicator (``AGENT_TYPING_EVENT``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from rasa.core.channels.channel import OutputChannel
from socketio import AsyncRedisManager, AsyncServer

from bot.channels.evidence_card import card_json
from bot.services import services_of
from bot.settings import ConfigError

BOT_EVENT = "bot_uttered"
AGENT_TYPING_EVENT = "agent_typing"
ROOMS_CHANNEL = "im-widget"


def socket_server(env: Mapping[str, str] = os.environ) -> AsyncServer:
    """The socket.io server of the widget, for Sanic, with the origins and rooms of ``env``."""
    sio = AsyncServer(
        async_mode="sanic",
        cors_allowed_origins=origin_check(allowed_origins(env)),
        cors_credentials=False,
        client_manager=shared_rooms(env),
    )
    answer_leaving_long_polls(sio)
    return sio


def shared_rooms(env: Mapping[str, str] = os.environ) -> AsyncRedisManager | None:
    """With REDIS_URL, a message for a conversation reaches its widget on whichever server."""
    url = env.get("REDIS_URL")
    return AsyncRedisManager(url, channel=ROOMS_CHANNEL) if url else None


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
    """The client address of a socket.io handshake, as the channels' limits see it for HTTP.

    python-engineio's Sanic mode puts a fixed REMOTE_ADDR (127.0.0.1) in the environ; the Sanic
    request it keeps there has the peer.
    """
    request = environ["sanic.request"]
    return services_of(request.app).limits.client_of(request)


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


def widget_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A bot message as the page draws it, in one piece: its text, buttons, image and evidence
    card (``bot.channels.evidence_card``, drawn instead of the text)."""
    shown = {key: message[key] for key in ("text", "buttons", "image") if message.get(key)}
    card = card_json(message.get("custom"))
    if card is not None:
        shown["evidence_card"] = card
    return shown


class WidgetOutput(OutputChannel):
    """Emits bot messages to every widget tab of the conversation, one socket message each."""

    def __init__(self, sio: AsyncServer) -> None:
        self._sio = sio

    @classmethod
    def name(cls) -> str:
        return "widget"

    async def _emit(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self._sio.emit(BOT_EVENT, message, room=recipient_id)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        # Rasa's base sends a response's text and its custom part as two messages: the page
        # would show a card's facts twice, once as text.
        shown = widget_message(message)
        if shown:
            await self._emit(recipient_id, shown)

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

    async def show_typing(self, recipient_id: str, typing: bool) -> None:
        """Tells every widget tab of the conversation that its agent is typing (or stopped)."""
        await self._sio.emit(AGENT_TYPING_EVENT, {"typing": typing}, room=recipient_id)
