"""What every channel does after the bot processed a user message.

While a human owns the conversation the bot stays silent; a user who is still waiting in the
queue can give up ("不用了", the 取消排队 button), which closes the ticket and hands the
conversation back. Otherwise the reply guard makes sure the message was answered.
"""

from __future__ import annotations

import logging

from rasa.core.agent import Agent
from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.events import ConversationResumed

from bot.channels.reply_guard import ensure_reply
from bot.handoff.store import HandoffStore

logger = logging.getLogger(__name__)

CANCEL_INTENTS = {"deny"}
CANCELLED = "utter_handoff_cancelled"


async def finish_turn(
    agent: Agent, store: HandoffStore, sender_id: str, output_channel: OutputChannel
) -> None:
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is not None and tracker.is_paused():
        intent = (
            (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
        )
        if intent in CANCEL_INTENTS and store.cancel(sender_id) is not None:
            logger.info("user cancelled the handoff in conversation %s", sender_id)
            async with agent.lock_store.lock(sender_id):
                tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
                tracker.update(ConversationResumed())
                await agent.tracker_store.save(tracker)
            await agent.execute_action(sender_id, CANCELLED, output_channel, None, None)
        return
    await ensure_reply(agent, sender_id, output_channel)
