"""The WeChat API client against a stand-in for WeChat's API: one HTTP session for the channel's
life, closed when the server stops, and one access token shared by servers (memory or Redis)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.channels.deliveries import DeliveryStore
from bot.channels.wechat.api import MemoryTokenStore, RedisTokenStore, TokenStore, WeChatApi
from bot.channels.wechat.channel import WeChatChannel, WeChatSettings
from bot.channels.wechat.replay import UsedSignatures
from scripts.production_stack import Redis
from tests.support.channel_server import domain_agent, serving
from tests.support.fakes import WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_TOKEN, FakePlatforms
from tests.support.http import Http
from tests.support.platform_users import IMAGE_XML, WeChatUser, fresh_id


@pytest.fixture
def wechat_api() -> Iterator[FakePlatforms]:
    """WeChat's API of this test alone: its tokens and connections are counted."""
    with FakePlatforms.running() as fake:
        yield fake


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: make system-deps installs it")
    server = Redis(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_api_session_is_kept_across_calls_and_closed_when_the_server_stops(
    tmp_path: Path, wechat_api: FakePlatforms
) -> None:
    url = f"sqlite:///{tmp_path / 'bindings.db'}"
    # A reply window too short for any reply: each one goes out through the API.
    settings = WeChatSettings(
        WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, None, wechat_api.url, 0.001
    )
    channel = WeChatChannel(
        settings,
        deliveries=DeliveryStore.from_url(url),
        signatures=UsedSignatures.from_url(url),
        tokens=MemoryTokenStore(),
    )
    openid = "oSessionUser01"
    with serving(channel, agent=domain_agent()) as base:
        user = WeChatUser(Http.to(base), wechat_api, openid)
        for pushed in range(1, 4):
            answer = user.post(user.xml(IMAGE_XML, msg_id=fresh_id()).encode())
            assert (answer.status, answer.text) == (200, "success")
            deadline = time.monotonic() + 10
            while len(wechat_api.texts(openid)) < pushed and time.monotonic() < deadline:
                time.sleep(0.02)  # one push after the other, as replies spread over time come
        calls = wechat_api.snapshot()
        assert len(wechat_api.texts(openid)) == 3
        assert [c.path for c in calls].count("/cgi-bin/token") == 1
        # A session per call would open and close a connection for each of the four calls.
        assert wechat_api.opened < len(calls), "the calls share kept connections"
        assert wechat_api.closed == 0, "connections stay open between calls"
    # The server stopped: the session closed its connections.
    wechat_api.wait_for_closed(wechat_api.opened)


def send_from_two_servers(api_url: str, first: TokenStore, second: TokenStore) -> None:
    """Two servers push in turn, each with its WeChatApi on ``first`` and ``second``."""

    async def run() -> None:
        servers = [
            WeChatApi(api_url, WECHAT_APP_ID, WECHAT_APP_SECRET, tokens)
            for tokens in (first, second)
        ]
        try:
            assert await servers[0].send_text("oTokenA", "第一条")
            assert await servers[1].send_text("oTokenB", "第二条")
            for server in servers:
                assert await server.send_text("oTokenA", "第三条")
        finally:
            for server in servers:
                await server.close()

    asyncio.run(run())


def test_servers_sharing_a_token_store_fetch_the_token_once(wechat_api: FakePlatforms) -> None:
    shared = MemoryTokenStore()
    send_from_two_servers(wechat_api.url, shared, shared)
    assert len(wechat_api.token_calls()) == 1
    with FakePlatforms.running() as separate:
        send_from_two_servers(separate.url, MemoryTokenStore(), MemoryTokenStore())
        # Each server fetches its own; WeChat would then invalidate the first one's.
        assert len(separate.token_calls()) == 2


def test_servers_share_the_token_through_redis(
    wechat_api: FakePlatforms, redis_server: Redis
) -> None:
    async def revoke_between() -> None:
        first = RedisTokenStore.from_url(redis_server.url, WECHAT_APP_ID)
        second = RedisTokenStore.from_url(redis_server.url, WECHAT_APP_ID)
        servers = [
            WeChatApi(wechat_api.url, WECHAT_APP_ID, WECHAT_APP_SECRET, t) for t in (first, second)
        ]
        try:
            assert await servers[0].send_text("oRedisA", "一")
            assert await servers[1].send_text("oRedisB", "二")
            assert len(wechat_api.token_calls()) == 1
            wechat_api.revoke_tokens()
            # The first server to be refused fetches a new token; the other finds it in Redis.
            assert await servers[1].send_text("oRedisB", "三")
            assert await servers[0].send_text("oRedisA", "四")
            assert len(wechat_api.token_calls()) == 2
        finally:
            for server in servers:
                await server.close()

    asyncio.run(revoke_between())
    # The fake records a call once it has answered it: the last may still be on its way.
    deadline = time.monotonic() + 10
    while len(wechat_api.sent("oRedisA") + wechat_api.sent("oRedisB")) < 5:
        assert time.monotonic() < deadline, wechat_api.snapshot()
        time.sleep(0.02)
    tokens = {
        user: [c.query["access_token"] for c in wechat_api.sent(user)]
        for user in ("oRedisA", "oRedisB")
    }
    # B's 三 is refused with the revoked token and sent again with the new one.
    assert tokens == {
        "oRedisA": ["access-token-1", "access-token-2"],
        "oRedisB": ["access-token-1", "access-token-1", "access-token-2"],
    }
