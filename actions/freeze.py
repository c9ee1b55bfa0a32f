"""Freeze (account_compromised): urgent advice, a confirmation, then the freeze itself."""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.wallet_action import WalletAction, send
from bot.care.approvals import Risk, assess, drain_suspect
from bot.dialogue.replies import Reply
from bot.dialogue.wallet_care import theft_replies
from bot.handoff.records import Reason
from bot.wallet.errors import WalletError

logger = logging.getLogger(__name__)

FREEZE_REASON = "user reported compromise in support chat"
# Approvals that can drain a wallet: a scam spender's, or an unlimited one.
SUSPECT_RISKS = {Risk.DENYLISTED, Risk.UNLIMITED}
# The chains' own coins, which no approval can move.
NATIVE_COINS = {"BTC", "ETH", "TRX", "BNB", "MATIC", "POL", "LTC", "SOL"}


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
        send(dispatcher, await self.approval_suspect(tracker, account_id))
        send(
            dispatcher,
            [Reply("utter_account_already_frozen" if account.frozen else "utter_ask_freeze")],
        )
        return []

    async def approval_suspect(self, tracker: Tracker, account_id: str) -> list[Reply]:
        """The risky approval that could have drained the stolen token (the one named, else
        any), named first: without a leaked mnemonic it is the usual cause."""
        token = next(tracker.get_latest_entity_values("currency"), None)
        if token is not None and token.upper() in NATIVE_COINS:
            return []  # approvals move tokens, never a chain's own coin
        try:
            approvals = await self.call(self.wallet.approvals, account_id)
            assessed = await self.call(assess, approvals, self.link_safety.denylisted, self.clock())
        except WalletError as error:  # the freeze question matters more than the hint
            logger.error("approvals unavailable for the theft hint: %s", type(error).__name__)
            return []
        risky = [item for item in assessed if item.risk in SUSPECT_RISKS]
        if token is not None:
            suspect = drain_suspect(risky, token)
        else:
            suspect = risky[0].approval if risky else None
        return theft_replies(suspect, self.display_zone)


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
