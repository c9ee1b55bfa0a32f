"""Every user message gets an answer: an apology when processing produced none.

Rasa logs a failed custom action (action server down, an exception in an action) and drops its
events, so the user would hear nothing. After processing a message, the channel asks this guard;
if the bot said nothing since the user's message and no human owns the conversation, Rasa itself
runs ``APOLOGY`` (a domain response: no action server needed), which also enters the tracker.
"""

from __future__ import annotations

import logging

from rasa.core.agent import Agent
from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

APOLOGY = "utter_action_failed"


def answered(tracker: DialogueStateTracker) -> bool:
    """Whether the bot replied after the latest user message (or a human agent owns it)."""
    if tracker.is_paused():
        return True
    for event in reversed(tracker.events):
        if isinstance(event, BotUttered):
            return True
        if isinstance(event, UserUttered):
            return False
    return True


async def ensure_reply(agent: Agent, sender_id: str, output_channel: OutputChannel) -> None:
    """Sends the apology when the latest user message of ``sender_id`` got no reply."""
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is not None and answered(tracker):
        return
    logger.error("no reply produced in conversation %s: sending %s", sender_id, APOLOGY)
    await agent.execute_action(sender_id, APOLOGY, output_channel, policy=None, confidence=None)
