"""Freeze (account_compromised): urgent advice, a confirmation, then the freeze itself."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.wallet_action import WalletAction, send
from bot.dialogue.replies import Reply
from bot.handoff.records import Reason

FREEZE_REASON = "user reported compromise in support chat"


class ActionOfferFreeze(WalletAction):
    """Tells the user what to do now and, for a proven owner, asks whether to freeze."""

    def name(self) -> str:
        return "action_offer_freeze"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        send(dispatcher, [Reply("utter_account_compromised")])
        if account_id is None:
            send(dispatcher, [Reply("utter_login_to_freeze")])
            return []
        account = await self.call(self.wallet.account, account_id)
        send(
            dispatcher,
            [Reply("utter_account_already_frozen" if account.frozen else "utter_ask_freeze")],
        )
        return []


class ActionFreezeAccount(WalletAction):
    """Freezes the proven owner's account and reports the urgent incident number."""

    def name(self) -> str:
        return "action_freeze_account"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        if account_id is None:
            send(dispatcher, [Reply("utter_login_to_freeze")])
            return []
        account = await self.call(self.wallet.account, account_id)
        if account.frozen:
            send(dispatcher, [Reply("utter_account_already_frozen")])
            return []
        ticket = await self.call(
            self.wallet.freeze_account, account_id, FREEZE_REASON, tracker.sender_id
        )
        send(dispatcher, [Reply("utter_account_frozen", {"ticket_number": ticket.number})])
        return [SlotSet("handoff_reason", Reason.COMPROMISED.value)]
