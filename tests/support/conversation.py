"""Conversations through Rasa's agent in this process, as the dialogue tests hold them.

The agent (``tests/conftest.py``) runs the trained model with the session's action server; a
``Conversation`` sends messages as a REST user would, or as the proven owner of an account.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered

from bot.identity import IDENTITY_FIELD, sign_identity

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
IDENTITY_SECRET = "conversation-test-secret"
T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]
_numbers = itertools.count(1)


@dataclass
class Reply:
    """One bot message as the user sees it, with the response it came from."""

    response: str | None
    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)


class Conversation:
    """A conversation with the assistant through Rasa's agent and the real action server."""

    def __init__(self, agent: Agent, run: Runner[Any]) -> None:
        self.sender_id = f"test-{os.getpid()}-{next(_numbers)}"
        self._agent = agent
        self._run = run

    def say(self, text: str, account: str | None = None) -> list[Reply]:
        """Sends ``text``, as the proven owner of ``account`` if given; returns the replies."""
        existing = self._run(self._agent.tracker_store.retrieve(self.sender_id))
        before = len(existing.events) if existing else 0
        metadata = (
            {IDENTITY_FIELD: sign_identity(IDENTITY_SECRET.encode(), account, self.sender_id)}
            if account
            else None
        )
        message = UserMessage(
            text, CollectingOutputChannel(), self.sender_id, input_channel="rest", metadata=metadata
        )
        self._run(self._agent.handle_message(message))
        new_events = list(self.tracker().events)[before:]
        return [
            Reply(e.metadata.get("utter_action"), e.text or "", list(e.data.get("buttons") or []))
            for e in new_events
            if isinstance(e, BotUttered)
        ]

    def responses(self, text: str, account: str | None = None) -> list[str | None]:
        return [reply.response for reply in self.say(text, account)]

    def last_intent(self) -> str:
        user_events = [e for e in self.tracker().events if isinstance(e, UserUttered)]
        return str(user_events[-1].intent_name)

    def tracker(self) -> Any:
        """The stored tracker, read after the first message so that Rasa starts the session."""
        tracker = self._run(self._agent.tracker_store.retrieve(self.sender_id))
        assert tracker is not None, "no conversation yet"
        return tracker
