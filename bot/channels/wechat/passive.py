"""WeChat's 5 seconds: a turn ready in time is the passive reply, a slower one is pushed later.

WeChat waits 5 seconds for the HTTP answer and then redelivers the message, three times in all.
A turn ready within WECHAT_REPLY_SECONDS is answered in the HTTP response (one text: the turn's
messages joined); a slower one, or one too long for one message, gets "success" and its messages
follow through the customer-service API. A redelivery joins the turn its first delivery started,
so whichever delivery WeChat takes gets the same reply, and nothing is processed twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.render import as_one, render

logger = logging.getLogger(__name__)

TURN_MEMORY_SECONDS = 120  # WeChat's redeliveries come within about 15 s

# A turn's messages; None when the message was processed before (by a restarted server).
Messages = list[dict[str, Any]] | None


@dataclass
class Turn:
    """One message being answered; a redelivery of it waits for the same result."""

    task: asyncio.Task[Messages]
    started: float = field(default_factory=time.monotonic)
    push: asyncio.Task[None] | None = None  # set once the messages go out through the API


class PassiveReplies:
    """The turns of this server's recent messages, answered passively or pushed."""

    def __init__(self, api: WeChatApi, reply_seconds: float) -> None:
        self._api = api
        self._reply_seconds = reply_seconds
        self._turns: dict[str, Turn] = {}

    async def answer(
        self,
        key: str,
        openid: str,
        process: Callable[[], Coroutine[Any, Any, Messages]],
        started: float,
    ) -> str | None:
        """The passive reply text for delivery ``key``, or None: "success", with the messages
        pushed when ready. ``process`` runs once per key; ``started`` is when the request came."""
        self._forget_old_turns()
        turn = self._turns.get(key)
        if turn is None:
            # Registered before any await, so a redelivery arriving meanwhile joins this turn.
            turn = Turn(asyncio.create_task(process()))
            self._turns[key] = turn
        else:
            logger.info("redelivery of a message from wechat:%s", openid)
        if turn.push is not None:
            return None
        remaining = started + self._reply_seconds - time.monotonic()
        try:
            messages = await asyncio.wait_for(asyncio.shield(turn.task), max(remaining, 0.0))
        except asyncio.TimeoutError:
            self._push_later(turn, openid)
            return None
        texts = render(messages or [])
        if not texts or turn.push is not None:
            return None
        joined = as_one(texts)
        if joined is None:
            self._push_later(turn, openid)
        return joined

    def _push_later(self, turn: Turn, openid: str) -> None:
        if turn.push is None:
            turn.push = asyncio.create_task(self._push_when_done(turn.task, openid))

    async def _push_when_done(self, task: asyncio.Task[Messages], openid: str) -> None:
        texts = render(await task or [])
        joined = as_one(texts)
        for text in [joined] if joined is not None else texts:
            if text:
                await self._api.send_text(openid, text)

    def _forget_old_turns(self) -> None:
        now = time.monotonic()
        for key, turn in list(self._turns.items()):
            finished = turn.task.done() and (turn.push is None or turn.push.done())
            if finished and now - turn.started > TURN_MEMORY_SECONDS:
                del self._turns[key]
