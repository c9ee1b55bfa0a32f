"""Runs an action the way the action server does: a tracker as Rasa sends it, a collecting
dispatcher; the identity of a proven user signed at ``NOW``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.identity import IDENTITY_FIELD, IdentitySettings, sign_identity
from tests.support.conversation import NOW

SECRET = b"test-identity-secret"
IDENTITY = IdentitySettings(secret=SECRET, dev_account_id=None)
CONVERSATION = "conversation-1"


def fixed_clock() -> Any:
    return NOW


@dataclass
class Outcome:
    """What the user saw and what the action returned."""

    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def responses(self) -> list[str]:
        return [m["response"] for m in self.messages]

    def values(self, response: str) -> dict[str, Any]:
        return next(m for m in self.messages if m["response"] == response)


def run_action(
    action: Action,
    *,
    account: str | None = None,
    claimed_metadata: dict[str, Any] | None = None,
    entities: Sequence[tuple[str, str]] = (),
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "any",
    events: Sequence[dict[str, Any]] = (),
) -> Outcome:
    """Runs ``action`` for a user proven to own ``account`` (or nobody), after ``events``."""
    metadata = claimed_metadata or {}
    if account is not None:
        metadata = {
            IDENTITY_FIELD: sign_identity(SECRET, account, CONVERSATION, int(NOW.timestamp()))
        }
    tracker = Tracker(
        CONVERSATION,
        slots or {},
        {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": [{"entity": name, "value": value} for name, value in entities],
            "metadata": metadata,
        },
        list(events),
        False,
        None,
        {},
        "action_listen",
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return Outcome(dispatcher.messages, list(events or []))
