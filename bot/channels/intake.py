"""The door every user message passes before Rasa sees it, in every channel.

In order: the text is cleaned (control characters and broken surrogates removed), an empty or
over-long message and a sender writing too fast get a polite reply and are not processed, and
secrets (mnemonics, private keys, keystore files, passwords, verification codes) are replaced by
markers such as ``[已隐藏的助记词]``. Only then does the message reach Rasa, so no secret reaches
the tracker store, the logs, the event broker, handoff transcripts or the agent console. The
marker makes the NLU recognise ``share_secret``, and the assistant warns the user at once.

A 64-hex string (or a Solana base58 one) whose words decide nothing may be a transaction hash or
a private key: it is kept only when the user's own wallet has a transfer with that hash.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.channels.metrics import observe_turn
from bot.channels.responses import say
from bot.channels.turn_end import finish_turn
from bot.handoff.store import handoff_store
from bot.identity import IdentitySettings, verified_account
from bot.secret_guard import Finding, find_secrets, redact
from bot.support_hours import ConfigError
from bot.wallet.errors import WalletError
from bot.wallet.factory import wallet_service

logger = logging.getLogger(__name__)

EMPTY = "utter_empty_message"
TOO_LONG = "utter_message_too_long"
SLOW_DOWN = "utter_slow_down"
SECRET_WARNING = "utter_secret_shared"
LOOKUP_SECONDS = 2.0
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
    """A token bucket per sender: ``burst`` messages at once, refilled at ``per_minute``."""

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


@lru_cache(maxsize=1)
def identity_settings() -> IdentitySettings:
    return IdentitySettings.from_env()


def clean(text: str) -> str:
    """The text without unprintable characters and surrounding white space."""
    return UNPRINTABLE.sub("", text).strip()


async def take_turn(
    app: Sanic,
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    message: UserMessage,
) -> None:
    """Admits ``message``, has Rasa process it and makes sure the turn was answered."""
    agent: Agent = app.ctx.agent
    sender_id, output, channel = message.sender_id, message.output_channel, message.input_channel
    text = clean(message.text or "")
    settings = intake_settings()
    refusal: tuple[str, dict[str, Any]] | None = None
    if not text:
        refusal = EMPTY, {}
    elif len(text) > settings.max_chars:
        refusal = TOO_LONG, {"max_chars": settings.max_chars}
    else:
        admitted, first_refusal = rate_limiter().admit(sender_id)
        if not admitted:
            logger.warning("rate limit reached in conversation %s", sender_id)
            if not first_refusal:
                return
            refusal = SLOW_DOWN, {}
    if refusal is not None:
        name, values = refusal
        await say(agent, output, sender_id, name, channel or "", **values)
        return
    findings = await confirmed_secrets(text, message.metadata, sender_id)
    if findings:
        logger.warning(
            "hid %s in conversation %s", ", ".join(f.kind.value for f in findings), sender_id
        )
        text = redact(text, findings)
    admitted_message = UserMessage(
        text,
        output,
        sender_id,
        input_channel=channel,
        message_id=message.message_id,
        metadata=message.metadata,
    )
    try:
        await observe_turn(on_new_message, admitted_message, agent)
    except Exception:
        logger.exception("processing failed in conversation %s", sender_id)
    store = handoff_store()
    await finish_turn(agent, app.ctx.input_channels, store, sender_id, output)
    if findings:
        await warn_during_handoff(agent, sender_id, output)


async def confirmed_secrets(
    text: str, metadata: Mapping[str, Any] | None, sender_id: str
) -> list[Finding]:
    """The secrets in ``text``; an undecided hash-like string unless it is the user's transfer."""
    findings = find_secrets(text)
    if not any(finding.uncertain for finding in findings):
        return findings
    account_id = verified_account(metadata, sender_id, identity_settings())
    kept = []
    for finding in findings:
        if finding.uncertain and account_id is not None:
            candidate = finding.candidate(text)
            if await is_own_transfer(account_id, candidate, sender_id):
                continue
        kept.append(finding)
    return kept


async def is_own_transfer(account_id: str, tx_hash: str, sender_id: str) -> bool:
    """Whether the account has a transfer with this hash; False when the wallet cannot say."""
    try:
        wallet = wallet_service()
        await asyncio.wait_for(
            asyncio.to_thread(wallet.transaction, account_id, tx_hash), LOOKUP_SECONDS
        )
    except (WalletError, ConfigError, asyncio.TimeoutError) as error:
        logger.info("hash-like string in %s kept hidden: %s", sender_id, type(error).__name__)
        return False
    return True


async def warn_during_handoff(agent: Agent, sender_id: str, output: Any) -> None:
    """A human owns the conversation and the bot is silent, but a secret still gets the warning."""
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is not None and tracker.is_paused():
        await agent.execute_action(sender_id, SECRET_WARNING, output, policy=None, confidence=None)
