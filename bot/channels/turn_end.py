"""What every channel does after the bot processed a user message.

While a human owns the conversation the bot stays silent. A user still waiting in the queue is
never left in silence: an informational question (an FAQ topic, the status of their tickets) is
answered as usual, and every message is followed by where they are in the queue (or, outside
support hours, when agents are back). A waiting user can also give up ("不用了", the 取消排队
button), which closes the ticket and hands the conversation back; only the conversation's owner
can (``bot.identity.proven_owner``: a REST client without its conversation token cannot).
Otherwise the reply guard makes sure the message was answered. Every turn is noted, in memory,
for the supervisors' live view (``bot.handoff.live``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timezone

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, OutputChannel
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.reply_guard import ensure_reply
from bot.handoff.delivery import Delivery
from bot.handoff.live import LiveRecorder
from bot.handoff.outbox import Outbox
from bot.handoff.records import State
from bot.handoff.tickets import TicketStore
from bot.support_hours import SupportHours
from bot.tracking import peek_tracker, turn_tracker

logger = logging.getLogger(__name__)

CANCEL_INTENTS = {"deny"}
CANCELLED = "utter_handoff_cancelled"
STILL_QUEUED = "utter_handoff_still_queued"
STILL_QUEUED_AFTER_HOURS = "utter_handoff_still_queued_after_hours"
# What a waiting user may still ask the bot: the intents whose rule is one response or look-up.
# Anything else (a new complaint, a transfer check, small talk) waits for the agent.
ANSWERED_WHILE_QUEUED = {
    "contact_channels": "utter_contact_channels",
    "service_hours": "utter_service_hours",
    "deposit_withdraw": "utter_deposit_withdraw",
    "network_fee": "utter_network_fee",
    "create_wallet": "utter_create_wallet",
    "mnemonic_backup": "utter_mnemonic_backup",
    "supported_coins": "utter_supported_coins",
    "bot_challenge": "utter_bot_challenge",
    "ticket_status": "action_ticket_status",
    # Safety questions do not wait for an agent: a queued user is who scammers approach.
    "verify_official": "action_verify_official",
    "address_safety": "action_check_address_safety",
    "approval_safety": "action_check_approvals",
    "watch_transfer": "action_watch_transfer",
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


async def finish_turn(
    agent: Agent,
    tickets: TicketStore,
    hours: SupportHours,
    sender_id: str,
    output_channel: OutputChannel,
    owner: bool,
    live: LiveRecorder | None = None,
) -> bool:
    """Under the conversation's lock: True when the user left the queue (see ``hand_back``).

    ``live``: the server's recorder of the supervisors' live view, which notes the turn.
    """
    tracker = await turn_tracker(agent, sender_id)
    if live is not None and tracker is not None:
        live.record(tracker)
    if tracker is not None and tracker.is_paused():
        if paused_this_turn(tracker):
            return False  # the handoff itself said where the user is in the queue
        latest = tracker.latest_message
        intent = (latest.intent or {}).get("name") if latest else None
        cancel = owner and intent in CANCEL_INTENTS
        if cancel and await asyncio.to_thread(tickets.cancel, sender_id) is not None:
            logger.info("user cancelled the handoff in conversation %s", sender_id)
            return True
        await asyncio.to_thread(tickets.user_wrote, sender_id)  # unread for the agent
        await answer_while_queued(agent, tickets, hours, sender_id, output_channel, intent)
        return False
    await ensure_reply(agent, tracker, sender_id, output_channel)
    return False


async def resume_orphaned(agent: Agent, tickets: TicketStore, sender_id: str) -> None:
    """Before a turn (the caller holds the lock): a conversation paused for a human whose ticket
    is no longer open (closed or cancelled outside the console) goes back to the bot, so the
    message is answered instead of met with silence."""
    tracker = await peek_tracker(agent, sender_id)
    if tracker is None or not tracker.is_paused():
        return
    if await asyncio.to_thread(tickets.open_for, sender_id) is not None:
        return
    tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
    tracker.update(ConversationResumed())
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    await agent.tracker_store.save(tracker)
    logger.warning("conversation %s was paused without an open ticket: resumed", sender_id)


def paused_this_turn(tracker: DialogueStateTracker) -> bool:
    """Whether this very message started the handoff (not one sent while already waiting)."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ConversationPaused):
            return True
    return False


async def answer_while_queued(
    agent: Agent,
    tickets: TicketStore,
    hours: SupportHours,
    sender_id: str,
    output: OutputChannel,
    intent: str | None,
    now: datetime | None = None,
) -> None:
    """A queued user's answer, then their place in the queue; nothing once an agent claimed."""
    ticket = await asyncio.to_thread(tickets.open_for, sender_id)
    if ticket is None or ticket.state is not State.QUEUED:
        return
    action = ANSWERED_WHILE_QUEUED.get(intent or "")
    if action is not None:
        await agent.execute_action(sender_id, action, output, policy=None, confidence=None)
    now = now or utc_now()
    if hours.is_open(now):
        position = max(await asyncio.to_thread(tickets.position, ticket), 1)
        await say_recorded(agent, sender_id, output, STILL_QUEUED, position=position)
    else:
        values = hours.response_values(now)
        await say_recorded(agent, sender_id, output, STILL_QUEUED_AFTER_HOURS, **values)
    logger.info("queued user answered in conversation %s (%s)", sender_id, action or "-")


async def say_recorded(
    agent: Agent, sender_id: str, output: OutputChannel, response: str, **values: object
) -> None:
    """Sends ``response`` and keeps it in the conversation (the caller holds the lock)."""
    tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
    channel = tracker.get_latest_input_channel() or ""
    message = await agent.nlg.generate(response, tracker, channel, **values)
    if message is None:
        raise KeyError(f"no response {response} in the domain")
    data = {key: message.get(key) for key in ("buttons", "image", "custom") if message.get(key)}
    tracker.update(BotUttered(message.get("text"), data, metadata={"utter_action": response}))
    await agent.tracker_store.save(tracker)
    await output.send_response(sender_id, message)


async def hand_back(
    agent: Agent, input_channels: Sequence[InputChannel], outbox: Outbox, sender_id: str
) -> None:
    """After the lock is released: the bot takes the conversation back and says so."""
    await Delivery(agent, input_channels, outbox).send_response(sender_id, CANCELLED, resume=True)
