"""Handoff to a human agent, and the rating after the agent closes the conversation."""

from __future__ import annotations

from abc import ABC
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.wallet_action import WalletAction, send
from bot.action_services import services
from bot.channels.limits import HANDOFFS
from bot.dialogue.ratings import rating_from
from bot.dialogue.replies import Reply
from bot.handoff.records import Reason, Urgency
from bot.handoff.routing import route
from bot.handoff.store import HandoffStore
from bot.handoff.summary import build_summary
from bot.handoff.tickets import TicketStore

FALLBACK_INTENTS = {"nlu_fallback", "deny"}


class HandoffAction(WalletAction, ABC):
    """An action that uses the handoff tickets; tests pass a store in."""

    def __init__(self, store: HandoffStore | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._store = store

    @property
    def store(self) -> HandoffStore:
        return self._store or services().handoff

    @property
    def tickets(self) -> TicketStore:
        return self.store.tickets


class ActionHandoff(HandoffAction):
    """Queues the conversation for a human agent of the right team (``bot.handoff.routing``),
    tells the user the wait, and pauses the bot."""

    def name(self) -> str:
        return "action_handoff"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        tickets = self.tickets
        if await self.call(tickets.open_for, tracker.sender_id) is None and not (
            await self.client_admitted(tracker, "handoff", HANDOFFS)
        ):
            send(dispatcher, [Reply("utter_handoff_busy")])
            return [SlotSet("handoff_reason", None)]
        summary = build_summary(tracker.events, account_id)
        channel = tracker.get_latest_input_channel() or "unknown"
        routed = route(self._reason(tracker), tracker.events)
        # Anyone can file a complaint anonymously; only a proven account's jumps the queue.
        anonymous = routed.reason is Reason.COMPLAINT and account_id is None
        urgency = Urgency.NORMAL if anonymous else routed.urgency
        ticket = await self.call(
            tickets.open,
            tracker.sender_id,
            channel,
            routed.reason,
            summary,
            urgency,
            routed.team,
            account_id,
        )
        settings = services().settings
        if not settings.hours.is_open(self.clock()):
            send(dispatcher, [Reply("utter_handoff_after_hours")])
        else:
            position = max(await self.call(tickets.position, ticket), 1)
            per_ticket = settings.handoff.minutes_per_ticket
            minutes = await self.call(self.store.assigner.wait_minutes, ticket, per_ticket)
            if minutes is None:  # nobody who could take it is online: the queue's pace
                minutes = int(position * per_ticket)
            send(
                dispatcher,
                [Reply("utter_handoff_queued", {"position": position, "eta_minutes": minutes})],
            )
        return [SlotSet("handoff_reason", None), ConversationPaused()]

    @staticmethod
    def _reason(tracker: Tracker) -> Reason:
        preset = tracker.get_slot("handoff_reason")
        if preset in {reason.value for reason in Reason}:
            return Reason(preset)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return Reason.FALLBACK if intent in FALLBACK_INTENTS else Reason.REQUESTED


class ActionSaveRating(HandoffAction):
    """Thanks the user for a 1–5 rating, storing it on the ticket when a human served them."""

    def name(self) -> str:
        return "action_save_rating"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        entity = next(tracker.get_latest_entity_values("rating"), None)
        rating = rating_from(
            str(entity) if entity is not None else tracker.latest_message.get("text") or ""
        )
        if rating is None:
            send(dispatcher, [Reply("utter_ask_rating")])
            return []
        # After a handoff the rating goes onto the ticket; every rating also stays in the tracker.
        await self.call(self.tickets.rate, tracker.sender_id, rating)
        send(dispatcher, [Reply("utter_thanks_for_rating")])
        return []
