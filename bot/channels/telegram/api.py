"""The Telegram Bot API client: method calls that log failures (never the token) and never raise."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from bot.channels.platform import PlatformApi

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
API_TIMEOUT_SECONDS = 10.0
MAX_RETRY_AFTER_SECONDS = 5


class BotApi(PlatformApi):
    """Calls Bot API methods; failures are logged (never the token or a text), never raised."""

    def __init__(self, api_url: str, token: str | None) -> None:
        super().__init__(API_TIMEOUT_SECONDS)
        self._api_url = api_url
        self._token = token

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
            async with self.session().post(url, json=params) as reply:
                return reply.status, await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            # The message of some errors holds the URL, and the URL holds the token.
            logger.warning("Telegram %s failed: %s", method, type(error).__name__)
            return None, None


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
