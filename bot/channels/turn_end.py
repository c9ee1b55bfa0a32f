"""What every channel does after the bot processed a user message.

While a human owns the conversation the bot stays silent; a user who is still waiting in the
queue can give up ("不用了", the 取消排队 button), which closes the ticket and hands the
conversation back; only the conversation's owner can (``bot.identity.proven_owner``: a REST
client without its conversation token cannot). Otherwise the reply guard makes sure the message
was answered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, OutputChannel

from bot.channels.reply_guard import ensure_reply
from bot.handoff.delivery import Delivery
from bot.handoff.store import HandoffStore
from bot.tracking import turn_tracker

logger = logging.getLogger(__name__)

CANCEL_INTENTS = {"deny"}
CANCELLED = "utter_handoff_cancelled"


async def finish_turn(
    agent: Agent, store: HandoffStore, sender_id: str, output_channel: OutputChannel, owner: bool
) -> bool:
    """Under the conversation's lock: True when the user left the queue (see ``hand_back``)."""
    tracker = await turn_tracker(agent, sender_id)
    if tracker is not None and tracker.is_paused():
        latest = tracker.latest_message
        intent = (latest.intent or {}).get("name") if latest else None
        if owner and intent in CANCEL_INTENTS and store.cancel(sender_id) is not None:
            logger.info("user cancelled the handoff in conversation %s", sender_id)
            return True
        return False
    await ensure_reply(agent, tracker, sender_id, output_channel)
    return False


async def hand_back(
    agent: Agent, input_channels: Sequence[InputChannel], store: HandoffStore, sender_id: str
) -> None:
    """After the lock is released: the bot takes the conversation back and says so."""
    await Delivery(agent, input_channels, store).send_response(sender_id, CANCELLED, resume=True)
