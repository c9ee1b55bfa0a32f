"""Sends agent messages and handoff notices to a user on the channel they last wrote from.

Runs in the Rasa server. The message enters the tracker as a ``BotUttered`` (an agent's carries
``handoff_agent`` in its metadata), then goes out through that channel's output channel: pushed
at once where the channel can push (socket.io, Telegram, WeChat), kept in the store's outbox for
request/response channels (REST), which hand it over with the user's next request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
)

from bot.handoff.outbox import Outbox

logger = logging.getLogger(__name__)


class OutboxOutputChannel(CollectingOutputChannel):
    """Keeps messages in the handoff outbox until the user's next request collects them."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__()
        self._outbox = outbox

    @classmethod
    def name(cls) -> str:
        return "outbox"

    async def _persist_message(self, message: dict[str, Any]) -> None:
        await super()._persist_message(message)
        await asyncio.to_thread(self._outbox.post, message["recipient_id"], message)


class Delivery:
    """Writes handoff messages into conversations and onto their channels."""

    def __init__(self, agent: Agent, input_channels: Sequence[InputChannel], outbox: Outbox):
        self._agent = agent
        self._channels = {channel.name(): channel for channel in input_channels}
        self._outbox = outbox

    async def send_text(
        self, conversation_id: str, text: str, agent_name: str, channel: str
    ) -> None:
        """An agent's reply, on the channel the ticket was opened from."""
        event = BotUttered(text, metadata={"handoff_agent": agent_name})
        await self._append(conversation_id, [event])
        await self.output_for(channel).send_text_message(conversation_id, text)

    async def send_response(
        self,
        conversation_id: str,
        response: str,
        resume: bool = False,
        channel: str | None = None,
        **values: Any,
    ) -> None:
        """A domain response rendered by the server's NLG; ``resume`` hands back to the bot."""
        tracker = await self._agent.tracker_store.get_or_create_tracker(conversation_id)
        channel = channel or tracker.get_latest_input_channel()
        message = await self._agent.nlg.generate(response, tracker, channel or "", **values)
        if message is None:
            raise KeyError(f"no response {response} in the domain")
        data = {key: message.get(key) for key in ("buttons", "image", "custom") if message.get(key)}
        said = BotUttered(message.get("text"), data, metadata={"utter_action": response})
        # Back with the bot, it waits for the user as after any bot turn: without the
        # action_listen the policies would read the next message as part of the paused turn.
        events = (
            [ConversationResumed(), said, ActionExecuted(ACTION_LISTEN_NAME)] if resume else [said]
        )
        await self._append(conversation_id, events)
        await self.output_for(channel).send_response(conversation_id, message)

    async def pause(self, conversation_id: str) -> None:
        """The bot stays silent from now on, as after a handoff (a supervisor took over)."""
        await self._append(conversation_id, [ConversationPaused()])

    async def typing(self, conversation_id: str, channel_name: str, typing: bool) -> None:
        """Shows (or stops showing) the agent typing, on channels that can (``show_typing``)."""
        show = getattr(self._channels.get(channel_name), "show_typing", None)
        if show is not None:
            await show(conversation_id, typing)

    def output_for(self, channel_name: str | None) -> OutputChannel:
        """The channel's push output, or the outbox when it cannot push."""
        channel = self._channels.get(channel_name or "")
        output = channel.get_output_channel() if channel is not None else None
        return output if output is not None else OutboxOutputChannel(self._outbox)

    async def _append(self, conversation_id: str, events: Sequence[Event]) -> str | None:
        async with self._agent.lock_store.lock(conversation_id):
            tracker = await self._agent.tracker_store.get_or_create_tracker(conversation_id)
            for event in events:
                tracker.update(event)
            await self._agent.tracker_store.save(tracker)
        return tracker.get_latest_input_channel()
