"""Rate limits hold across servers: two servers drawing from one Redis share every bucket."""

from __future__ import annotations

import asyncio

from bot.rate_limits import Admission, RedisRateLimiter, Rule
from scripts.production_stack import Redis

RULE = Rule(burst=3, per_minute=1)


def admit_all(url: str, keys: list[str], scope: str = "turn-address") -> list[Admission]:
    """Each key admitted in turn by a new limiter, as by one server after another."""

    async def run() -> list[Admission]:
        servers = [RedisRateLimiter.from_url(url) for _ in range(2)]
        return [await servers[n % 2].admit(scope, key, RULE) for n, key in enumerate(keys)]

    return asyncio.run(run())


def test_two_servers_share_one_bucket(redis_server: Redis) -> None:
    results = admit_all(redis_server.url, ["203.0.113.1"] * 5)
    assert results == [
        Admission(True),
        Admission(True),
        Admission(True),
        Admission(False, True),
        Admission(False, False),
    ], "the burst counts across both servers; only the first refusal is answered"


def test_scopes_and_keys_are_separate(redis_server: Redis) -> None:
    assert admit_all(redis_server.url, ["203.0.113.2"] * 3 + ["203.0.113.3"])[-1] == Admission(True)
    assert admit_all(redis_server.url, ["203.0.113.2"], scope="handoff") == [Admission(True)]


def test_a_redis_outage_lets_requests_through(redis_server: Redis) -> None:
    url = redis_server.url.replace(str(redis_server.port), "1")  # nothing listens on port 1
    assert admit_all(url, ["203.0.113.4"] * 5) == [Admission(True)] * 5
