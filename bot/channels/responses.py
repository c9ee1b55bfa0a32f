"""Domain responses a channel answers by itself, outside any Rasa turn.

They are rendered by the server's NLG for an empty tracker, so they touch no store: a message
refused at the door (empty, too long, too fast) or a binding reply leaves no trace in the
conversation.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import OutputChannel

logger = logging.getLogger(__name__)


async def render(
    agent: Agent, sender_id: str, name: str, channel: str, **values: Any
) -> dict[str, Any]:
    """The response ``name`` as ``channel`` shows it; KeyError if the domain lacks it."""
    tracker = agent.tracker_store.init_tracker(sender_id)
    message = await agent.nlg.generate(name, tracker, channel, **values)
    if message is None:
        raise KeyError(f"no response {name} in the domain")
    return {key: value for key, value in message.items() if value}


async def say(
    agent: Agent, output: OutputChannel, sender_id: str, name: str, channel: str, **values: Any
) -> None:
    """Sends the response ``name`` to ``sender_id`` through ``output``."""
    message = await render(agent, sender_id, name, channel, **values)
    await output.send_response(sender_id, message)
