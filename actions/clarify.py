"""First fallback stage: asks which of the likely topics the user meant."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.dialogue.clarify import clarify_buttons, load_intent_labels


class ActionClarifyIntent(Action):
    """Offers the top candidate intents as buttons, plus "none of these"."""

    def name(self) -> str:
        return "action_clarify_intent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        dispatcher.utter_message(
            response="utter_clarify", buttons=clarify_buttons(ranking, load_intent_labels())
        )
        return []
