"""Rate limits that hold across servers: token buckets in Redis with REDIS_URL, else in memory.

A limit is a ``Rule`` (a burst, then a rate per minute) applied to a key within a scope:
``await limiter.admit("turn-address", "203.0.113.9", rule)``. The embedded default is one server,
so its buckets live in that process; with several servers REDIS_URL is set (the conversation
locks need it too) and every server draws from the same bucket, updated atomically by one Lua
script on Redis's own clock. N servers never give a client N times the rate.

A Redis outage lets messages through (logged): the conversation locks fail in that case anyway,
and a limiter must not be what takes the whole desk down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MAX_TRACKED_KEYS = 100_000
KEY_PREFIX = "im:rate:"


@dataclass(frozen=True)
class Rule:
    """``burst`` requests at once, then ``per_minute`` on average."""

    burst: int
    per_minute: float

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass(frozen=True)
class Admission:
    """Whether the request may go on; only the first refusal of a streak is worth a reply."""

    admitted: bool
    first_refusal: bool = False


class RateLimiter(Protocol):
    """The buckets of every scope and key."""

    async def admit(self, scope: str, key: str, rule: Rule) -> Admission: ...


class MemoryRateLimiter:
    """Buckets in this process: right for one server (the embedded default) and for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # (scope, key) -> (tokens, last update, refused since the last admitted request)
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float, bool]] = OrderedDict()

    async def admit(self, scope: str, key: str, rule: Rule) -> Admission:
        return self.admit_now(scope, key, rule)

    def admit_now(self, scope: str, key: str, rule: Rule) -> Admission:
        now = self._clock()
        with self._lock:
            tokens, updated, refused = self._buckets.pop(
                (scope, key), (float(rule.burst), now, False)
            )
            tokens = min(float(rule.burst), tokens + (now - updated) * rule.per_second)
            admitted = tokens >= 1.0
            self._buckets[(scope, key)] = (tokens - 1.0 if admitted else tokens, now, not admitted)
            while len(self._buckets) > MAX_TRACKED_KEYS:
                self._buckets.popitem(last=False)
        return Admission(admitted, not admitted and not refused)


# KEYS[1]: the bucket. ARGV: burst, tokens per second. Redis's clock, so servers agree.
TOKEN_BUCKET = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'refused')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
local refused = state[3] == '1'
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local admitted = tokens >= 1
if admitted then tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now),
  'refused', admitted and '0' or '1')
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local first = (not admitted) and (not refused)
return {admitted and 1 or 0, first and 1 or 0}
"""


def async_redis(url: str) -> Any:
    """An asyncio Redis client as every shared store of a server uses it (the rate limits, the
    WeChat token, the transfer watcher's lease): a dead Redis answers within a second."""
    from redis import asyncio as redis_asyncio

    return redis_asyncio.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


class RedisRateLimiter:
    """Buckets in Redis, shared by every server (REDIS_URL)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._script = client.register_script(TOKEN_BUCKET)

    @classmethod
    def from_url(cls, url: str) -> RedisRateLimiter:
        return cls(async_redis(url))

    async def admit(self, scope: str, key: str, rule: Rule) -> Admission:
        try:
            admitted, first = await self._script(
                keys=[f"{KEY_PREFIX}{scope}:{key}"], args=[rule.burst, rule.per_second]
            )
        except Exception as error:  # redis errors and timeouts alike
            logger.warning("rate limit %s not checked, Redis failed: %s", scope, error)
            return Admission(True)
        return Admission(bool(admitted), bool(first))


def rate_limiter(redis_url: str | None) -> RateLimiter:
    """Redis with REDIS_URL (several servers), else this process's memory."""
    return RedisRateLimiter.from_url(redis_url) if redis_url else MemoryRateLimiter()
