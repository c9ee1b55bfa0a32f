"""Complaints: the form that collects them, the ticket it files, and status questions."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.wallet_action import WalletAction, send
from bot.channels.limits import COMPLAINTS
from bot.dialogue.complaints import (
    DESCRIPTION_AT_CATEGORY,
    MAX_DESCRIPTION,
    MIN_DESCRIPTION,
    OTHER,
    load_categories,
    ticket_replies,
)
from bot.dialogue.replies import Reply
from bot.handoff.records import Reason
from bot.wallet.records import Priority, TicketDraft, TicketKind

SHOWN_TICKETS = 3


class ActionAskComplaintCategory(Action):
    """Asks for the complaint category with one button per category."""

    def name(self) -> str:
        return "action_ask_complaint_category"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_ask_complaint_category", buttons=load_categories().buttons()
        )
        return []


class ValidateComplaintForm(FormValidationAction):
    """The category comes from a button or its exact name; free text never files a complaint.

    Other text at the category question is asked again with the buttons; when it is long enough to
    tell what happened, it is kept as the description so the user need not type it twice.
    """

    def name(self) -> str:
        return "validate_complaint_form"

    def validate_complaint_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        code = load_categories().code_for(text)
        if code is not None:
            return {"complaint_category": code}
        dispatcher.utter_message(response="utter_complaint_category_unknown")
        if len(text) >= DESCRIPTION_AT_CATEGORY:
            return {"complaint_category": None, "complaint_description": text[:MAX_DESCRIPTION]}
        return {"complaint_category": None}

    def validate_complaint_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) < MIN_DESCRIPTION:
            dispatcher.utter_message(response="utter_complaint_description_too_short")
            return {"complaint_description": None}
        return {"complaint_description": text[:MAX_DESCRIPTION]}


class ActionSubmitComplaint(WalletAction):
    """Files the complaint ticket and gives the user its number."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        cleared = [SlotSet("complaint_category", None), SlotSet("complaint_description", None)]
        if not await self.client_admitted(tracker, "complaint", COMPLAINTS):
            send(dispatcher, [Reply("utter_complaint_busy")])
            return cleared
        draft = TicketDraft(
            kind=TicketKind.COMPLAINT,
            category=tracker.get_slot("complaint_category") or OTHER,
            description=tracker.get_slot("complaint_description") or "",
            priority=Priority.NORMAL,
            conversation_id=tracker.sender_id,
            account_id=account_id,
        )
        ticket = await self.call(self.wallet.create_ticket, draft)
        send(dispatcher, [Reply("utter_complaint_filed", {"ticket_number": ticket.number})])
        return [*cleared, SlotSet("handoff_reason", Reason.COMPLAINT.value)]


class ActionTicketStatus(WalletAction):
    """Reports the user's complaints and incidents (the account's, or this conversation's)."""

    def name(self) -> str:
        return "action_ticket_status"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        if account_id is None and not self.is_owner(tracker):
            send(dispatcher, [Reply("utter_ticket_status_not_owner")])
            return []
        owned = []
        for kind in (TicketKind.COMPLAINT, TicketKind.INCIDENT):
            owned += await self.call(
                self.wallet.tickets,
                account_id=account_id,
                conversation_id=tracker.sender_id,
                kind=kind,
                limit=SHOWN_TICKETS,
            )
        asked = next(tracker.get_latest_entity_values("ticket_number"), None)
        if asked is not None:
            owned = [ticket for ticket in owned if ticket.number == asked.upper()]
        owned.sort(key=lambda ticket: ticket.created_at, reverse=True)
        send(
            dispatcher, ticket_replies(owned[:SHOWN_TICKETS], load_categories(), self.display_zone)
        )
        return []
