"""Telegram channel: the Bot API webhook, authenticated, idempotent and never a 500.

    POST /webhooks/telegram/webhook   a Telegram Update (https://core.telegram.org/bots/api#update)

Telegram signs nothing; it echoes the ``secret_token`` given to ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header, so every call without it is refused (403) before
anything happens. Telegram retries an update until it gets a 2xx and stalls the chat meanwhile,
so once authenticated the answer is always 200; update ids are recorded, so a redelivered update
(even after a restart) is processed once. Only private chats are served: group, supergroup and
channel updates and edited messages are ignored, stickers, photos and other non-text messages get
``utter_unsupported_message``. Button presses (callback queries) are answered and processed as
the user sending the button's payload.

Every reply counts against the sender's rate (``bot.channels.limits.sender_admitted``): text goes
through the intake, which counts it there; what the channel answers itself (``/start``,
stickers and photos, binding) is counted here, so a flood gets one 「您发得有点快…」 and then
silence.

A Telegram user is linked to a wallet account only by sending "绑定 K7PM-X4QD" with a one-time
code from the app (``bot.channels.binding``, where wrong codes are limited); from then on their
messages carry the account's signed identity, and the account's owner is told in the widget.
Unbound users get general help only.

Settings (credentials.yml keys, or the environment when the entry is empty): ``access_token``
(TELEGRAM_TOKEN), ``secret_token`` (TELEGRAM_SECRET_TOKEN), ``api_url`` (TELEGRAM_API_URL,
default https://api.telegram.org). Register the webhook once with
``python -m bot.channels.telegram set-webhook https://<host>/webhooks/telegram/webhook``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import aiohttp
import sqlalchemy as sa
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine

from bot.channels.binding import (
    bind_code_in,
    bind_platform_user,
    binding_db_url,
    binding_store,
)
from bot.channels.intake import SLOW_DOWN, take_turn
from bot.channels.limits import encodable, sender_admitted
from bot.channels.responses import say
from bot.channels.widget import notify_owner
from bot.database import UtcDateTime, open_database
from bot.identity import IDENTITY_FIELD, IdentitySettings, sign_identity

logger = logging.getLogger(__name__)

PLATFORM = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_API_URL = "https://api.telegram.org"
MAX_BODY_BYTES = 1_000_000
MAX_TEXT_LENGTH = 4096  # Telegram's limit for a message, both ways
MAX_UPDATE_ID = 2**63  # update ids are stored as 64-bit integers
MAX_CALLBACK_DATA_BYTES = 64  # Telegram's limit for a button's callback_data
STORED_PAYLOAD_PREFIX = "#"  # callback_data naming a stored payload that did not fit
API_TIMEOUT_SECONDS = 10.0
MAX_RETRY_AFTER_SECONDS = 5
UPDATE_RETENTION = timedelta(days=2)  # Telegram gives up redelivering long before
PAYLOAD_RETENTION = timedelta(days=30)
PRUNE_EVERY_SECONDS = 3600.0
WELCOME = "utter_welcome"
UNSUPPORTED = "utter_unsupported_message"
BINDING_ADDED = "utter_binding_added"
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

metadata = sa.MetaData()

updates = sa.Table(
    "telegram_updates",
    metadata,
    sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("received_at", UtcDateTime, nullable=False, index=True),
)

button_payloads = sa.Table(
    "telegram_button_payloads",
    metadata,
    sa.Column("token", sa.String(32), primary_key=True),
    sa.Column("platform_user_id", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Index("ix_telegram_button_payloads_user", "platform_user_id"),
)


@dataclass(frozen=True)
class TelegramSettings:
    """The bot's token, the webhook's secret token and the Bot API base URL."""

    token: str | None
    secret_token: str | None
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_credentials(
        cls, credentials: Mapping[str, Any] | None, env: Mapping[str, str] = os.environ
    ) -> TelegramSettings:
        """credentials.yml values, each falling back to its environment variable."""
        given = credentials or {}

        def setting(key: str, variable: str) -> str | None:
            value = str(given.get(key) or env.get(variable) or "").strip()
            return value or None

        api_url = setting("api_url", "TELEGRAM_API_URL") or DEFAULT_API_URL
        return cls(
            setting("access_token", "TELEGRAM_TOKEN"),
            setting("secret_token", "TELEGRAM_SECRET_TOKEN"),
            api_url.rstrip("/"),
        )


class BotApi:
    """Calls Bot API methods; failures are logged (never the token or a text), never raised."""

    def __init__(self, api_url: str, token: str | None) -> None:
        self._api_url = api_url
        self._token = token
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, params: dict[str, Any]) -> bool:
        """Whether Telegram accepted the call; one retry when it asks for a short wait."""
        if not self._token:
            logger.error("TELEGRAM_TOKEN is not set: cannot call %s", method)
            return False
        for attempt in range(2):
            status, body = await self._post(method, params)
            if status is None:
                return False  # no answer at all; _post logged why
            if isinstance(body, dict) and body.get("ok") is True:
                return True
            retry_after = _retry_after(body)
            if status == 429 and attempt == 0 and retry_after is not None:
                await asyncio.sleep(retry_after)
                continue
            description = body.get("description") if isinstance(body, dict) else None
            logger.warning(
                "Telegram %s failed (%s): %s", method, status, str(description or "")[:200]
            )
            return False
        return False

    async def _post(self, method: str, params: dict[str, Any]) -> tuple[int | None, Any]:
        url = f"{self._api_url}/bot{self._token}/{method}"
        try:
            async with self._client().post(url, json=params) as reply:
                return reply.status, await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            # The message of some errors holds the URL, and the URL holds the token.
            logger.warning("Telegram %s failed: %s", method, type(error).__name__)
            return None, None

    def _client(self) -> aiohttp.ClientSession:
        # Built on first use, inside the server's event loop; kept for its connection pool.
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=API_TIMEOUT_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def _retry_after(body: Any) -> int | None:
    parameters = body.get("parameters") if isinstance(body, dict) else None
    wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if (
        isinstance(wait, int)
        and not isinstance(wait, bool)
        and 0 <= wait <= MAX_RETRY_AFTER_SECONDS
    ):
        return wait
    return None


class TelegramStore:
    """Update ids already processed, and button payloads too long for callback_data."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pruned_at = 0.0

    @classmethod
    def from_url(cls, url: str) -> TelegramStore:
        return cls(open_database(url, metadata))

    def claim_update(self, update_id: int) -> bool:
        """True the first time ``update_id`` is seen, False for a redelivery."""
        now = datetime.now(timezone.utc)
        self._prune(now)
        try:
            with self._engine.begin() as connection:
                connection.execute(updates.insert().values(update_id=update_id, received_at=now))
        except sa.exc.IntegrityError:
            return False
        return True

    def button_data(self, platform_user_id: str, payload: str) -> str:
        """The callback_data for a button: the payload itself, or a key to it when too long."""
        if (
            len(payload.encode()) <= MAX_CALLBACK_DATA_BYTES
            and payload
            and not payload.startswith(STORED_PAYLOAD_PREFIX)
        ):
            return payload
        with self._engine.begin() as connection:
            existing = connection.execute(
                sa.select(button_payloads.c.token).where(
                    button_payloads.c.platform_user_id == platform_user_id,
                    button_payloads.c.payload == payload,
                )
            ).first()
            if existing is not None:
                return f"{STORED_PAYLOAD_PREFIX}{existing[0]}"
            token = secrets.token_urlsafe(12)
            connection.execute(
                button_payloads.insert().values(
                    token=token,
                    platform_user_id=platform_user_id,
                    payload=payload,
                    created_at=datetime.now(timezone.utc),
                )
            )
        return f"{STORED_PAYLOAD_PREFIX}{token}"

    def payload_for(self, platform_user_id: str, data: str) -> str | None:
        """The payload a pressed button stands for; None for an unknown or foreign key."""
        if not data.startswith(STORED_PAYLOAD_PREFIX):
            return data
        query = sa.select(button_payloads.c.payload).where(
            button_payloads.c.token == data[len(STORED_PAYLOAD_PREFIX) :],
            button_payloads.c.platform_user_id == platform_user_id,
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return str(row[0]) if row else None

    def _prune(self, now: datetime) -> None:
        if self._pruned_at and time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        with self._engine.begin() as connection:
            connection.execute(
                updates.delete().where(updates.c.received_at < now - UPDATE_RETENTION)
            )
            connection.execute(
                button_payloads.delete().where(
                    button_payloads.c.created_at < now - PAYLOAD_RETENTION
                )
            )


@lru_cache(maxsize=1)
def telegram_store() -> TelegramStore:
    """The process-wide store, in the binding database (BINDING_DB_URL, default var/bindings.db)."""
    return TelegramStore.from_url(binding_db_url())


def _chunks(text: str) -> Iterator[str]:
    for start in range(0, max(len(text), 1), MAX_TEXT_LENGTH):
        yield text[start : start + MAX_TEXT_LENGTH]


class TelegramOutput(OutputChannel):
    """Sends the bot's and agents' messages to a private chat with ``sendMessage``."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    def __init__(self, api: BotApi, store: Callable[[], TelegramStore]) -> None:
        self._api = api
        self._store = store

    @staticmethod
    def _chat_id(recipient_id: str) -> int | None:
        # Private chats only, where the chat id is the user id of "telegram:<id>".
        prefix, _, user = recipient_id.partition(":")
        if prefix == PLATFORM and user.lstrip("-").isdigit():
            return int(user)
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
        keyboard = [[button] for button in self._keyboard_buttons(str(chat_id), buttons)]
        *leading, last = list(_chunks(text or "")) or [""]
        for chunk in leading:
            await self._api.call("sendMessage", {"chat_id": chat_id, "text": chunk})
        params: dict[str, Any] = {"chat_id": chat_id, "text": last or "…"}
        if keyboard:
            params["reply_markup"] = {"inline_keyboard": keyboard}
        await self._api.call("sendMessage", params)

    def _keyboard_buttons(self, user: str, buttons: list[dict[str, Any]]) -> list[dict[str, str]]:
        keyboard = []
        for button in buttons:
            if not isinstance(button, dict):
                continue
            payload, url = button.get("payload"), button.get("url")
            title = str(button.get("title") or payload or url or "")[:64]
            if isinstance(url, str) and url.startswith("https://"):
                keyboard.append({"text": title, "url": url})
            elif isinstance(payload, str) and payload:
                try:
                    data = self._store().button_data(user, payload)
                except Exception:
                    # An output channel must not raise into Rasa: the text goes out without it.
                    logger.exception("could not store a button payload for telegram:%s", user)
                    continue
                keyboard.append({"text": title, "callback_data": data})
        return keyboard

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


class TelegramChannel(InputChannel):
    """The Telegram bot's webhook; registered in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramChannel:
        return cls(TelegramSettings.from_credentials(credentials))

    def __init__(
        self,
        settings: TelegramSettings | None = None,
        store: TelegramStore | None = None,
        identity: IdentitySettings | None = None,
    ) -> None:
        self._settings = settings or TelegramSettings.from_credentials(None)
        self._store = store
        self._identity = identity
        self._api = BotApi(self._settings.api_url, self._settings.token)
        if not self._settings.secret_token:
            logger.warning(
                "TELEGRAM_SECRET_TOKEN is not set: the Telegram webhook refuses all calls"
            )
        if not self._settings.token:
            logger.warning("TELEGRAM_TOKEN is not set: the Telegram channel cannot send")

    @property
    def store(self) -> TelegramStore:
        return self._store or telegram_store()

    @property
    def identity(self) -> IdentitySettings:
        if self._identity is None:
            self._identity = IdentitySettings.from_env()
        return self._identity

    def get_output_channel(self) -> TelegramOutput:
        """Telegram can push: agents' replies go out at once."""
        return TelegramOutput(self._api, lambda: self.store)

    def authenticated(self, request: Request) -> bool:
        expected = self._settings.secret_token
        given = request.headers.get(SECRET_HEADER)
        if not expected or not isinstance(given, str):
            return False
        return hmac.compare_digest(
            given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("im_telegram_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
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
            try:
                first_time = self.store.claim_update(update_id)
            except Exception:
                # Better to risk answering a redelivery twice than to leave the user unanswered.
                logger.exception("could not record Telegram update %s", update_id)
                first_time = True
            if not first_time:
                logger.info("Telegram update %s was redelivered: already processed", update_id)
                return response.json({"ok": True})
            try:
                await self._handle(request.app, update, on_new_message)
            except Exception:
                # Any error status makes Telegram redeliver and hold the user's later messages.
                logger.exception("processing Telegram update %s failed", update_id)
            return response.json({"ok": True})

        @webhook.listener("after_server_stop")
        async def close_api(_: Sanic, __: Any) -> None:
            await self._api.close()

        return webhook

    async def _handle(
        self,
        app: Sanic,
        update: dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        message, query = update.get("message"), update.get("callback_query")
        if isinstance(message, dict):
            await self._on_message(app, message, on_new_message)
        elif isinstance(query, dict):
            await self._on_button(app, query, on_new_message)
        else:
            # Edited messages, channel posts, membership changes: nothing to answer.
            kinds = sorted(key for key in update if key != "update_id")[:3]
            logger.debug("ignored Telegram update %s %s", update["update_id"], kinds)

    async def _on_message(
        self,
        app: Sanic,
        message: dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        user_id = _user_id(message)
        if user_id is None or not _is_private(message):
            return  # groups and channels are not served; nobody there is told anything
        text = message.get("text")
        if isinstance(text, str):
            # Empty or blank too: the intake answers it politely.
            await self._on_text(app, user_id, text, on_new_message)
        elif UNSUPPORTED_CONTENT.intersection(message):
            await self._reply(app, f"{PLATFORM}:{user_id}", UNSUPPORTED)

    async def _on_button(
        self,
        app: Sanic,
        query: dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        query_id = query.get("id")
        if isinstance(query_id, str):
            # Stops the spinner on the user's button.
            await self._api.call("answerCallbackQuery", {"callback_query_id": query_id})
        user_id, data = _user_id(query), query.get("data")
        if user_id is None or not _is_private(query.get("message")) or not isinstance(data, str):
            return
        if not encodable(data):
            return  # not one of our buttons
        payload = self.store.payload_for(str(user_id), data)
        if payload:
            await self._on_text(app, user_id, payload, on_new_message)

    async def _on_text(
        self,
        app: Sanic,
        user_id: int,
        text: str,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        sender_id = f"{PLATFORM}:{user_id}"
        if GREETING_COMMAND.match(text):
            await self._reply(app, sender_id, WELCOME)
            return
        code = bind_code_in(text)
        if code is not None:
            # Handled here, never passed to Rasa: the code stays out of the tracker.
            if await self._admitted(app, sender_id):
                await self._bind(app, user_id, code)
            return
        output = self.get_output_channel()
        message = UserMessage(
            text,
            output,
            sender_id,
            input_channel=self.name(),
            metadata=await self._identity_metadata(user_id, sender_id),
        )
        await take_turn(app, message)  # counts the message against the sender's rate itself

    async def _identity_metadata(self, user_id: int, sender_id: str) -> dict[str, Any] | None:
        try:
            account = await asyncio.to_thread(binding_store().account_for, PLATFORM, str(user_id))
        except Exception:
            # Answered as an unbound user (general help) rather than not at all.
            logger.exception("binding look-up failed in conversation %s", sender_id)
            return None
        if account is None:
            return None
        secret = self.identity.secret
        if secret is None:
            logger.error("IDENTITY_SECRET is not set: bound user %s is not identified", sender_id)
            return None
        return {IDENTITY_FIELD: sign_identity(secret, account, sender_id)}

    async def _bind(self, app: Sanic, user_id: int, code: str) -> None:
        sender_id = f"{PLATFORM}:{user_id}"
        outcome = await bind_platform_user(code, PLATFORM, str(user_id), sender_id)
        await self._say(app, sender_id, outcome.response)
        if outcome.account_id is not None:
            await notify_owner(app, outcome.account_id, BINDING_ADDED, platform="Telegram")

    async def _reply(self, app: Sanic, sender_id: str, response_name: str) -> None:
        """A reply the channel gives itself, within the sender's rate."""
        if await self._admitted(app, sender_id):
            await self._say(app, sender_id, response_name)

    async def _admitted(self, app: Sanic, sender_id: str) -> bool:
        """Whether the sender is within its rate; the first refusal of a streak is told so."""
        admission = await sender_admitted(sender_id)
        if admission.admitted:
            return True
        logger.warning("rate limit reached in conversation %s", sender_id)
        if admission.first_refusal:
            await self._say(app, sender_id, SLOW_DOWN)
        return False

    async def _say(self, app: Sanic, sender_id: str, response_name: str) -> None:
        """A domain response the channel answers itself, rendered by the server's NLG."""
        await say(app.ctx.agent, self.get_output_channel(), sender_id, response_name, self.name())


async def set_webhook(settings: TelegramSettings, url: str) -> bool:
    """Points Telegram at ``url`` with the secret token and the update kinds we serve."""
    api = BotApi(settings.api_url, settings.token)
    try:
        return await api.call(
            "setWebhook",
            {
                "url": url,
                "secret_token": settings.secret_token,
                "allowed_updates": ["message", "callback_query"],
            },
        )
    finally:
        await api.close()


def main(argv: list[str]) -> int:
    """``set-webhook URL``: registers the webhook with TELEGRAM_TOKEN and TELEGRAM_SECRET_TOKEN."""
    if len(argv) != 2 or argv[0] != "set-webhook" or not argv[1].startswith("https://"):
        print(
            "usage: python -m bot.channels.telegram set-webhook https://<host>/webhooks/telegram/webhook"
        )
        return 2
    settings = TelegramSettings.from_credentials(None)
    if not settings.token or not settings.secret_token:
        print("set TELEGRAM_TOKEN and TELEGRAM_SECRET_TOKEN first")
        return 2
    logging.basicConfig(level=logging.INFO)
    return 0 if asyncio.run(set_webhook(settings, argv[1])) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
