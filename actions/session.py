"""Starts each conversation session with the support hours the responses quote."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.support_hours import SupportHours


class ActionSessionStart(Action):
    """Opens a session and sets agent_open / agent_close / agent_timezone from the configuration."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        hours = SupportHours.from_env()
        now = datetime.now(timezone.utc)
        return [
            SessionStarted(),
            SlotSet("agent_open", hours.opens.strftime("%H:%M")),
            SlotSet("agent_close", hours.closes.strftime("%H:%M")),
            SlotSet("agent_timezone", hours.utc_offset_label(now)),
            ActionExecuted("action_listen"),
        ]
