"""The WeChat API client: the access token, kept where every server finds it, and
customer-service messages (``/cgi-bin/message/custom/send``).

WeChat issues one access token per Official Account at a time: fetching a new one invalidates
the last after a few minutes. Servers that each fetched their own would keep invalidating one
another's, so the token lives in a shared store, as wechatpy keeps it in its session storage:
Redis with REDIS_URL (several servers), this process's memory otherwise. The token is fetched
when the store has none, and again when WeChat refuses the stored one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp

from bot.channels.platform import PlatformApi
from bot.rate_limits import async_redis

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.weixin.qq.com"
API_TIMEOUT_SECONDS = 5.0
TOKEN_MARGIN_SECONDS = 300  # refresh this long before WeChat says the token expires
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid or expired access token: fetch a new one
TOKEN_KEY_PREFIX = "im:wechat:access-token:"


class WeChatApiError(Exception):
    """WeChat refused a call or could not be reached."""

    def __init__(self, reason: str, errcode: int | None = None) -> None:
        super().__init__(reason)
        self.errcode = errcode


class TokenStore(Protocol):
    """Where the Official Account's access token is kept between calls."""

    async def get(self) -> str | None:
        """The token, or None when there is none or it is about to expire."""

    async def put(self, token: str, lifetime: float) -> None:
        """Keeps ``token`` for ``lifetime`` seconds."""

    async def close(self) -> None:
        """Releases the store's connections (on server stop)."""


class MemoryTokenStore:
    """The token in this process: right for one server."""

    def __init__(self) -> None:
        self._token: str | None = None
        self._expires = 0.0

    async def get(self) -> str | None:
        return self._token if time.monotonic() < self._expires else None

    async def put(self, token: str, lifetime: float) -> None:
        self._token, self._expires = token, time.monotonic() + lifetime

    async def close(self) -> None:
        """Nothing to release."""


class RedisTokenStore:
    """The token in Redis, shared by every server (REDIS_URL); expired by Redis itself."""

    def __init__(self, client: Any, app_id: str) -> None:
        self._client = client
        self._key = f"{TOKEN_KEY_PREFIX}{app_id}"

    @classmethod
    def from_url(cls, url: str, app_id: str) -> RedisTokenStore:
        return cls(async_redis(url), app_id)

    async def get(self) -> str | None:
        try:
            token = await self._client.get(self._key)
        except Exception as error:  # redis errors and timeouts alike
            logger.warning("WeChat access token not read, Redis failed: %s", error)
            return None
        return token.decode() if isinstance(token, bytes) else token

    async def put(self, token: str, lifetime: float) -> None:
        try:
            await self._client.set(self._key, token, px=max(int(lifetime * 1000), 1))
        except Exception as error:
            logger.warning("WeChat access token not shared, Redis failed: %s", error)

    async def close(self) -> None:
        await self._client.close()


def token_store(app_id: str, env: Mapping[str, str] = os.environ) -> TokenStore:
    """Redis with REDIS_URL (several servers), else this process's memory."""
    url = env.get("REDIS_URL")
    return RedisTokenStore.from_url(url, app_id) if url else MemoryTokenStore()


class WeChatApi(PlatformApi):
    """Customer-service messages through WeChat's API, with the access token in ``tokens``."""

    def __init__(
        self, api_url: str, app_id: str, app_secret: str, tokens: TokenStore | None = None
    ) -> None:
        super().__init__(API_TIMEOUT_SECONDS)
        self._api_url = api_url
        self._app_id = app_id
        self._app_secret = app_secret
        self._tokens = tokens or MemoryTokenStore()
        self._token_lock = asyncio.Lock()

    async def close(self) -> None:
        await super().close()
        await self._tokens.close()

    async def _call(
        self, method: str, path: str, params: Mapping[str, str], body: Any = None
    ) -> dict[str, Any]:
        url = f"{self._api_url}{path}"
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if data else {}
        try:
            async with self.session().request(
                method, url, params=dict(params), data=data, headers=headers
            ) as answer:
                if answer.status != 200:
                    raise WeChatApiError(f"HTTP {answer.status} from {path}")
                result = await answer.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise WeChatApiError(f"{path} failed: {type(error).__name__}") from error
        if not isinstance(result, dict):
            raise WeChatApiError(f"unexpected answer from {path}")
        errcode = result.get("errcode") or 0
        if errcode:
            raise WeChatApiError(f"{path} errcode {errcode}", int(errcode))
        return result

    async def access_token(self, refused: str | None = None) -> str:
        """The stored token; a new one when there is none, or when WeChat ``refused`` the stored
        one (unless another server has replaced it meanwhile)."""
        async with self._token_lock:
            token = await self._tokens.get()
            if token is not None and token != refused:
                return token
            if not (self._app_id and self._app_secret):
                raise WeChatApiError("WECHAT_APP_ID and WECHAT_APP_SECRET are not set")
            result = await self._call(
                "GET",
                "/cgi-bin/token",
                {
                    "grant_type": "client_credential",
                    "appid": self._app_id,
                    "secret": self._app_secret,
                },
            )
            token, lifetime = result.get("access_token"), result.get("expires_in", 7200)
            if not isinstance(token, str) or not token:
                raise WeChatApiError("no access_token in the answer")
            margin = min(TOKEN_MARGIN_SECONDS, float(lifetime) / 2)
            await self._tokens.put(token, float(lifetime) - margin)
            logger.info("fetched a WeChat access token valid for %ss", lifetime)
            return token

    async def send_text(self, openid: str, text: str) -> bool:
        """Sends a customer-service text message; False (logged) when WeChat did not take it."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        refused: str | None = None
        for attempt in range(2):
            token = None
            try:
                token = await self.access_token(refused)
                await self._call(
                    "POST", "/cgi-bin/message/custom/send", {"access_token": token}, body
                )
                return True
            except WeChatApiError as error:
                if error.errcode in TOKEN_ERRORS and attempt == 0 and token is not None:
                    refused = token
                    continue
                # 45015: the user has not written within 48 hours, WeChat allows no push.
                logger.error("customer-service message to wechat:%s failed: %s", openid, error)
                return False
        return False
