"""Registers the Telegram webhook: ``python -m bot.channels.telegram set-webhook https://…``."""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.channels.telegram.api import BotApi
from bot.channels.telegram.channel import TelegramSettings

USAGE = (
    "usage: python -m bot.channels.telegram set-webhook https://<host>/webhooks/telegram/webhook"
)


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
    """``set-webhook URL`` with TELEGRAM_TOKEN and TELEGRAM_SECRET_TOKEN."""
    if len(argv) != 2 or argv[0] != "set-webhook" or not argv[1].startswith("https://"):
        print(USAGE)
        return 2
    settings = TelegramSettings.from_credentials(None)
    if not settings.token or not settings.secret_token:
        print("set TELEGRAM_TOKEN and TELEGRAM_SECRET_TOKEN first")
        return 2
    logging.basicConfig(level=logging.INFO)
    return 0 if asyncio.run(set_webhook(settings, argv[1])) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
