"""Telegram: the webhook channel (``channel``), the Bot API client (``api``), the buttons and the
payloads too long for them (``buttons``); ``python -m bot.channels.telegram set-webhook URL``
registers the webhook."""

from bot.channels.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel"]
