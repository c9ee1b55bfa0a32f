"""Every user message gets an answer: an apology when processing failed or produced nothing.

Rasa logs a failed custom action (action server down, an exception in an action) as executed and
drops its events, so the user would hear nothing, or half an answer. Every custom action and form
of this assistant produces at least one event when it runs, so in a live turn a custom action
directly followed by another action (or by nothing) has failed. After processing a message, the
channel asks this guard; on a failed or silent turn, with no human owning the conversation, Rasa
itself runs ``APOLOGY`` (a domain response: no action server needed), which enters the tracker.
"""

from __future__ import annotations

import logging

from rasa.core.agent import Agent
from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.metrics import REGISTRY, REPLY_GUARD

logger = logging.getLogger(__name__)

APOLOGY = "utter_action_failed"


def latest_turn(tracker: DialogueStateTracker) -> list[Event] | None:
    """The events after the latest user message; None if there is none."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index + 1 :]
    return None


def turn_failed(tracker: DialogueStateTracker, domain: Domain) -> bool:
    """Whether the latest user message got no reply or had a custom action fail."""
    turn = latest_turn(tracker)
    if turn is None or tracker.is_paused():
        return False
    custom = set(domain.user_actions) | set(domain.form_names)
    for event, following in zip(turn, [*turn[1:], None], strict=True):
        lost_events = following is None or isinstance(following, ActionExecuted)
        if isinstance(event, ActionExecuted) and event.action_name in custom and lost_events:
            logger.error(
                "action %s failed in conversation %s", event.action_name, tracker.sender_id
            )
            return True
    return not any(isinstance(event, BotUttered) for event in turn)


async def ensure_reply(
    agent: Agent,
    tracker: DialogueStateTracker | None,
    sender_id: str,
    output_channel: OutputChannel,
) -> None:
    """Sends the apology when the turn in ``tracker`` (as the turn left it) was not answered."""
    with REGISTRY.timed(REPLY_GUARD):
        answered = tracker is not None and not turn_failed(tracker, agent.domain)
    if answered:
        return
    logger.error("sending %s in conversation %s", APOLOGY, sender_id)
    await agent.execute_action(sender_id, APOLOGY, output_channel, policy=None, confidence=None)
