"""What the channel intake accepts: printable text, a length limit, a rate per sender."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from bot.support_hours import ConfigError

MAX_TRACKED_SENDERS = 100_000
# C0/C1 controls except tab and newline, zero-width and bidi controls, and lone surrogates
# (JSON "\ud800" decodes to one; it cannot be encoded to UTF-8 for the store or the logs).
UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)


@dataclass(frozen=True)
class IntakeSettings:
    """Message length and per-sender rate limits (MAX_MESSAGE_CHARS, RATE_LIMIT_*)."""

    max_chars: int = 1000
    burst: int = 10
    per_minute: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> IntakeSettings:
        try:
            settings = cls(
                max_chars=int(env.get("MAX_MESSAGE_CHARS") or cls.max_chars),
                burst=int(env.get("RATE_LIMIT_BURST") or cls.burst),
                per_minute=float(env.get("RATE_LIMIT_PER_MINUTE") or cls.per_minute),
            )
        except ValueError as error:
            raise ConfigError(
                "MAX_MESSAGE_CHARS, RATE_LIMIT_BURST and RATE_LIMIT_PER_MINUTE must be numbers"
            ) from error
        if settings.max_chars < 1 or settings.burst < 1 or settings.per_minute <= 0:
            raise ConfigError("MAX_MESSAGE_CHARS, RATE_LIMIT_BURST and RATE_LIMIT_PER_MINUTE > 0")
        return settings


class RateLimiter:
    """A token bucket per sender: ``burst`` messages at once, refilled at ``per_minute``.

    Kept in the server's memory: with several servers behind a load balancer, a sender may get
    up to that many times the rate.
    """

    def __init__(self, settings: IntakeSettings, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        # sender -> (tokens, last update, refused since the last admitted message)
        self._buckets: OrderedDict[str, tuple[float, float, bool]] = OrderedDict()

    def admit(self, sender_id: str) -> tuple[bool, bool]:
        """(admitted, first refusal): only the first refused message of a streak is answered."""
        now = self._clock()
        rate = self._settings.per_minute / 60.0
        with self._lock:
            tokens, updated, refused = self._buckets.pop(
                sender_id, (float(self._settings.burst), now, False)
            )
            tokens = min(float(self._settings.burst), tokens + (now - updated) * rate)
            admitted = tokens >= 1.0
            self._buckets[sender_id] = (tokens - 1.0 if admitted else tokens, now, not admitted)
            while len(self._buckets) > MAX_TRACKED_SENDERS:
                self._buckets.popitem(last=False)
        return admitted, not admitted and not refused


@lru_cache(maxsize=1)
def intake_settings() -> IntakeSettings:
    return IntakeSettings.from_env()


@lru_cache(maxsize=1)
def rate_limiter() -> RateLimiter:
    return RateLimiter(intake_settings())


def encodable(text: str) -> bool:
    """Whether ``text`` can be stored and logged: no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean(text: str) -> str:
    """The text without unprintable characters and surrounding white space."""
    return UNPRINTABLE.sub("", text).strip()
