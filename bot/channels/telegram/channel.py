"""The Telegram channel: the Bot API webhook, authenticated, each update once, never a 500.

    POST /webhooks/telegram/webhook   a Telegram Update (https://core.telegram.org/bots/api#update)

Telegram signs nothing; it echoes the ``secret_token`` given to ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header, so every call without it is refused (403) before
anything happens. Telegram retries an update until it gets a 2xx and stalls the chat meanwhile,
so once authenticated the answer is always 200, and a redelivered ``update_id`` (even after a
restart) is processed once. Only private chats are served: group, supergroup and channel updates
and edited messages are ignored, stickers, photos and other non-text messages get
``utter_unsupported_message``. Button presses (callback queries) are answered and processed as
the user sending the button's payload (``buttons``). Binding, identity and the sender's rate
are the platform base's (``bot.channels.platform``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import OutputChannel
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.binding import BindingStore
from bot.channels.deliveries import DeliveryStore
from bot.channels.evidence_card import EvidenceCard
from bot.channels.limits import encodable
from bot.channels.platform import (
    UNSUPPORTED,
    WELCOME,
    PlatformChannel,
    PlatformSettings,
    SettingsSource,
    platform_user,
    started,
)
from bot.channels.telegram.api import DEFAULT_API_URL, BotApi
from bot.channels.telegram.buttons import ButtonPayloads
from bot.identity import IdentitySettings
from bot.services import Services

logger = logging.getLogger(__name__)

PLATFORM = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_000_000
MAX_TEXT_LENGTH = 4096  # Telegram's limit for a message, both ways
MAX_UPDATE_ID = 2**63  # update ids are stored as 64-bit integers
# Telegram clients send these when the user opens the bot or asks for help.
GREETING_COMMAND = re.compile(r"^/(?:start|help)(?:@\w+)?(?:\s.*)?$", re.IGNORECASE | re.DOTALL)
# Message kinds a user sends on purpose and that we cannot read; service messages are ignored.
UNSUPPORTED_CONTENT = frozenset(
    {
        "animation",
        "audio",
        "contact",
        "dice",
        "document",
        "game",
        "location",
        "paid_media",
        "photo",
        "poll",
        "sticker",
        "story",
        "venue",
        "video",
        "video_note",
        "voice",
    }
)


@dataclass(frozen=True)
class TelegramSettings(PlatformSettings):
    """The bot's token, the webhook's secret token and the Bot API base URL."""

    token: str | None
    secret_token: str | None
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_credentials(
        cls, credentials: Mapping[str, Any] | None, env: Mapping[str, str] = os.environ
    ) -> TelegramSettings:
        """credentials.yml values, each falling back to its environment variable."""
        source = SettingsSource.of(credentials, env)
        return cls(
            source.text("access_token", "TELEGRAM_TOKEN"),
            source.text("secret_token", "TELEGRAM_SECRET_TOKEN"),
            source.url("api_url", "TELEGRAM_API_URL", DEFAULT_API_URL),
        )

    def missing(self) -> dict[str, str]:
        missing = {}
        if not self.secret_token:
            missing["TELEGRAM_SECRET_TOKEN"] = "the Telegram webhook refuses all calls"
        if not self.token:
            missing["TELEGRAM_TOKEN"] = "the Telegram channel cannot send"
        return missing


def _chunks(text: str) -> Iterator[str]:
    for start in range(0, max(len(text), 1), MAX_TEXT_LENGTH):
        yield text[start : start + MAX_TEXT_LENGTH]


class TelegramOutput(OutputChannel):
    """Sends the bot's and agents' messages to a private chat with ``sendMessage``."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    def __init__(self, api: BotApi, buttons: ButtonPayloads) -> None:
        self._api = api
        self._buttons = buttons

    @staticmethod
    def _chat_id(recipient_id: str) -> int | None:
        # Private chats only, where the chat id is the user id of "telegram:<id>".
        user = platform_user(recipient_id)
        if user is not None and user.platform == PLATFORM and user.user.lstrip("-").isdigit():
            return int(user.user)
        logger.warning("cannot send to %s on Telegram", recipient_id[:64])
        return None

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        chat_id = self._chat_id(recipient_id)
        if chat_id is not None and text:
            for chunk in _chunks(text):
                await self._api.call("sendMessage", {"chat_id": chat_id, "text": chunk})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        chat_id = self._chat_id(recipient_id)
        if chat_id is None:
            return
        keyboard = await asyncio.to_thread(self._keyboard, str(chat_id), buttons)
        *leading, last = list(_chunks(text or "")) or [""]
        for chunk in leading:
            await self._api.call("sendMessage", {"chat_id": chat_id, "text": chunk})
        params: dict[str, Any] = {"chat_id": chat_id, "text": last or "…"}
        if keyboard:
            params["reply_markup"] = {"inline_keyboard": keyboard}
        await self._api.call("sendMessage", params)

    def _keyboard(self, user: str, buttons: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
        return self._buttons.inline_keyboard(user, buttons)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        chat_id = self._chat_id(recipient_id)
        if chat_id is not None:
            await self._api.call("sendPhoto", {"chat_id": chat_id, "photo": image})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        text = json_message.get("text") if isinstance(json_message, dict) else None
        if isinstance(text, str):
            await self.send_text_message(recipient_id, text)
        elif EvidenceCard.of(json_message) is not None:
            # The card's response has already sent its text, which holds the same facts.
            logger.debug("evidence card for %s sent as its text", recipient_id[:64])
        else:
            logger.warning("custom message for %s not sent: Telegram needs text", recipient_id[:64])


def _user_id(item: Mapping[str, Any]) -> int | None:
    """The id of the human who sent a message or pressed a button."""
    sender = item.get("from")
    if not isinstance(sender, dict) or sender.get("is_bot") is True:
        return None
    user_id = sender.get("id")
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None


def _is_private(message: Any) -> bool:
    chat = message.get("chat") if isinstance(message, dict) else None
    return isinstance(chat, dict) and chat.get("type") == "private"


class TelegramChannel(PlatformChannel):
    """The Telegram bot's webhook; registered in credentials.yml."""

    platform = PLATFORM
    display_name = "Telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramChannel:
        return cls(TelegramSettings.from_credentials(credentials))

    def __init__(
        self,
        settings: TelegramSettings,
        deliveries: DeliveryStore | None = None,
        buttons: ButtonPayloads | None = None,
        bindings: BindingStore | None = None,
        identity: IdentitySettings | None = None,
    ) -> None:
        bot = BotApi(settings.api_url, settings.token)
        super().__init__(settings, bot, deliveries, bindings, identity)
        self._settings = settings
        self._bot = bot
        self._buttons = buttons

    def open_stores(self, services: Services) -> None:
        super().open_stores(services)
        self._buttons = self._buttons or ButtonPayloads.from_url(services.settings.stores.bindings)

    def get_output_channel(self) -> TelegramOutput:
        """Telegram can push: agents' replies go out at once."""
        return TelegramOutput(self._bot, started(self._buttons))

    def acknowledgement(self) -> HTTPResponse:
        return response.json({"ok": True})

    def authenticated(self, request: Request) -> bool:
        expected = self._settings.secret_token
        given = request.headers.get(SECRET_HEADER)
        if not expected or not isinstance(given, str):
            return False
        return hmac.compare_digest(
            given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
        )

    async def receive(self, request: Request) -> HTTPResponse:
        if not self.authenticated(request):
            logger.warning("refused a Telegram webhook call without the right secret token")
            return response.json({"error": "forbidden"}, status=403)
        if len(request.body or b"") > MAX_BODY_BYTES:
            return response.json({"error": "body too large"}, status=413)
        try:
            update = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return response.json({"error": "expected a JSON object"}, status=400)
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if (
            not isinstance(update_id, int)
            or isinstance(update_id, bool)
            or not 0 <= update_id < MAX_UPDATE_ID
        ):
            return response.json({"error": "expected a Telegram update"}, status=400)
        await self.process_once(
            str(update_id), f"update {update_id}", lambda: self._handle(request.app, update), None
        )
        return self.acknowledgement()

    async def _handle(self, app: Sanic, update: dict[str, Any]) -> None:
        message, query = update.get("message"), update.get("callback_query")
        if isinstance(message, dict):
            await self._on_message(app, message)
        elif isinstance(query, dict):
            await self._on_button(app, query)
        else:
            # Edited messages, channel posts, membership changes: nothing to answer.
            kinds = sorted(key for key in update if key != "update_id")[:3]
            logger.debug("ignored Telegram update %s %s", update["update_id"], kinds)

    async def _on_message(self, app: Sanic, message: dict[str, Any]) -> None:
        user_id = _user_id(message)
        if user_id is None or not _is_private(message):
            return  # groups and channels are not served; nobody there is told anything
        text = message.get("text")
        if isinstance(text, str):
            # Empty or blank too: the intake answers it politely.
            await self._on_text(app, str(user_id), text)
        elif UNSUPPORTED_CONTENT.intersection(message):
            output = self.get_output_channel()
            await self.reply(app, output, self.conversation(str(user_id)), UNSUPPORTED)

    async def _on_button(self, app: Sanic, query: dict[str, Any]) -> None:
        query_id = query.get("id")
        if isinstance(query_id, str):
            # Stops the spinner on the user's button.
            await self._bot.call("answerCallbackQuery", {"callback_query_id": query_id})
        user_id, data = _user_id(query), query.get("data")
        if user_id is None or not _is_private(query.get("message")) or not isinstance(data, str):
            return
        if not encodable(data):
            return  # not one of our buttons
        payload = await asyncio.to_thread(self._payload_for, str(user_id), data)
        if payload:
            await self._on_text(app, str(user_id), payload)

    def _payload_for(self, user: str, data: str) -> str | None:
        return started(self._buttons).payload_for(user, data)

    async def _on_text(self, app: Sanic, user: str, text: str) -> None:
        output = self.get_output_channel()
        if GREETING_COMMAND.match(text):
            await self.reply(app, output, self.conversation(user), WELCOME)
        else:
            await self.on_text(app, output, user, text)
