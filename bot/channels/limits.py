"""What the channels accept: printable text, a length limit, a rate per sender and per client.

The per-sender rate comes from RATE_LIMIT_BURST / RATE_LIMIT_PER_MINUTE. Sender ids cost nothing
to invent, so the rules below also hold per client address (``bot.channels.client_address``),
each in its own scope. Buckets are shared by every server (``bot.rate_limits``); a server's
``Limits`` are part of its services (``bot.services``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.channels.client_address import AddressSettings
from bot.rate_limits import Admission, RateLimiter, Rule
from bot.settings import ConfigError

# Per client address. Many people can share one address (an office, a carrier's NAT), so these
# stop floods, not people: a person types a few messages a minute.
ADDRESS_TURNS = Rule(burst=60, per_minute=300)
NEW_CONVERSATIONS = Rule(burst=10, per_minute=10)
HANDOFFS = Rule(burst=3, per_minute=0.5)
COMPLAINTS = Rule(burst=3, per_minute=0.5)
WIDGET_HANDSHAKES = Rule(burst=20, per_minute=30)
BINDING_CODES = Rule(burst=5, per_minute=2)
# The metadata field in which the intake passes a limited client's (keyed, hashed) address to
# the actions, which limit handoffs and complaints per client.
CLIENT_FIELD = "im_client"

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


class Limits:
    """The limits of one server's channels, drawing from ``limiter``'s buckets."""

    def __init__(
        self, limiter: RateLimiter, intake: IntakeSettings, addresses: AddressSettings
    ) -> None:
        self.limiter = limiter
        self.intake = intake
        self.addresses = addresses

    def client_of(self, request: Any) -> str:
        """The client address of a Sanic request (X-Forwarded-For only from TRUSTED_PROXIES)."""
        return self.addresses.client_of(request.ip, request.headers.get("X-Forwarded-For"))

    async def sender_admitted(self, sender_id: str) -> Admission:
        """The per-sender rate of RATE_LIMIT_BURST / RATE_LIMIT_PER_MINUTE, for every reply."""
        rule = Rule(self.intake.burst, self.intake.per_minute)
        return await self.limiter.admit("sender", sender_id, rule)

    async def address_admitted(self, scope: str, address: str | None, rule: Rule) -> Admission:
        """``rule`` for the client ``address`` in ``scope``; exempt and unknown addresses pass."""
        if not address or self.addresses.is_exempt(address):
            return Admission(True)
        return await self.limiter.admit(scope, address, rule)


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
