"""The bot's messages as WeChat text: collected for a passive reply, or pushed through the API.

WeChat shows plain text only: a turn's buttons become one list across its messages, numbered
(answered by number, ``bot.channels.button_choice``) unless the titles start with numbers
themselves; images and attachments become their links.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel

from bot.channels.button_choice import numbered
from bot.channels.platform import platform_user
from bot.channels.wechat.api import WeChatApi

logger = logging.getLogger(__name__)

PLATFORM = "wechat"
MAX_TEXT_BYTES = 2048  # WeChat's limit for one text message


def render(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """Each bot message as WeChat text; buttons become one list across the turn."""
    messages = list(messages)
    use_numbers = numbered(b for m in messages for b in m.get("buttons") or [])
    texts, number = [], 1
    for message in messages:
        lines = [str(message["text"])] if message.get("text") else []
        for button in message.get("buttons") or []:
            title = button.get("title", "")
            lines.append(f"{number}. {title}" if use_numbers else f"· {title}")
            number += 1
        if message.get("image"):
            lines.append(str(message["image"]))
        if message.get("attachment"):
            lines.append(str(message["attachment"]))
        if lines:
            texts.append("\n".join(lines))
    return texts


def as_one(texts: list[str]) -> str | None:
    """A turn's texts as the one message WeChat takes, or None when they do not fit in one."""
    joined = "\n\n".join(texts)
    return joined if len(joined.encode()) <= MAX_TEXT_BYTES else None


class WeChatCollector(CollectingOutputChannel):
    """Collects a turn's messages for the passive reply; named so responses pick their
    "wechat" variation (Rasa chooses variations by the output channel's name)."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM


class WeChatOutput(OutputChannel):
    """Pushes messages to a WeChat user (slow turns, handoff agents, handoff notices)."""

    def __init__(self, api: WeChatApi) -> None:
        self._api = api

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    async def _push(self, recipient_id: str, texts: list[str]) -> None:
        user = platform_user(recipient_id)
        if user is None or user.platform != PLATFORM:
            logger.error("conversation %s is not a WeChat conversation", recipient_id)
            return
        for text in texts:
            await self._api.send_text(user.user, text)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        # One push per response: the base class would split paragraphs into separate messages.
        await self._push(recipient_id, render([message]))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._push(recipient_id, render([{"text": text}]))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._push(recipient_id, render([{"text": text, "buttons": buttons}]))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._push(recipient_id, [image])

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self._push(recipient_id, [attachment])

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        logger.debug("custom message to %s not shown on WeChat", recipient_id)
