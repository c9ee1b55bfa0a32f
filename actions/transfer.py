"""Transfer check (transfer_pending): the state of the user's own transfer, and what to do.

An outgoing transfer to a lookalike of an address the user used before (address poisoning) gets
the urgent warning instead of the usual advice; any other pending one is offered a watch
(「到账了通知我」, ``actions.care``).
"""

from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.care import history
from actions.wallet_action import WalletAction, send
from bot.action_services import services
from bot.care.poisoning import Lookalike, poisoned_destination
from bot.dialogue.replies import Reply
from bot.dialogue.transfer_check import transfer_buttons, transfer_replies
from bot.dialogue.wallet_care import poisoned_transfer_replies
from bot.handoff.records import Reason
from bot.privacy import mask_hash
from bot.wallet.errors import NotFound, TransactionNotFound, WalletError
from bot.wallet.records import Direction, NetworkFee, Transaction, TxStatus

logger = logging.getLogger(__name__)

RECENT_TRANSFERS = 4


class ActionCheckTransfer(WalletAction):
    """Looks up the hash in the message, or offers the recent outgoing transfers to pick from."""

    def name(self) -> str:
        return "action_check_transfer"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        if account_id is None:
            send(dispatcher, [Reply("utter_transfer_pending"), Reply("utter_login_to_check")])
            return []
        await self.call(self.wallet.account, account_id)  # unknown accounts get an apology
        tx_hash = next(tracker.get_latest_entity_values("tx_hash"), None)
        if tx_hash is None:
            recent = await self.call(
                self.wallet.transactions, account_id, Direction.OUT, RECENT_TRANSFERS
            )
            if not recent:
                send(dispatcher, [Reply("utter_no_recent_transfers")])
            else:
                buttons = transfer_buttons(recent, self.display_zone)
                send(dispatcher, [Reply("utter_choose_transfer", buttons=buttons)])
            return []
        try:
            tx = await self.call(self.wallet.transaction, account_id, tx_hash)
        except TransactionNotFound:
            send(dispatcher, [Reply("utter_transfer_unknown_hash", {"tx": mask_hash(tx_hash)})])
            return []
        fee, poisoned = await asyncio.gather(self.fee(tx.chain), self.poisoning(account_id, tx))
        settings = services().settings.transfer_check
        replies = transfer_replies(tx, fee, self.clock(), settings)
        if poisoned is not None:
            # The warning instead of the usual advice: the money went to a scammer, not to an
            # exchange to ask, and speeding it up would only help them.
            send(dispatcher, poisoned_transfer_replies(poisoned, tx, replies, self.display_zone))
            return []
        events: list[EventType] = []
        if tx.status is TxStatus.PENDING:
            replies.append(Reply("utter_offer_watch", {"tx_hash": tx.tx_hash}))
            events.append(SlotSet("watch_tx_hash", tx.tx_hash))
        send(dispatcher, replies)
        if any(reply.response == "utter_transfer_pending_long" for reply in replies):
            events.append(SlotSet("handoff_reason", Reason.PENDING_TRANSFER.value))
        return events

    async def fee(self, chain: str) -> NetworkFee | None:
        try:
            return await self.call(self.wallet.network_fee, chain)
        except NotFound:
            return None

    async def poisoning(self, account_id: str, tx: Transaction) -> Lookalike | None:
        """The lookalike an outgoing transfer was sent to, if it was (address poisoning); None
        when the history cannot be read (the transfer's state is still told)."""
        if tx.direction is not Direction.OUT:
            return None
        try:
            sent, baits = await history(self, account_id)
        except WalletError as error:
            logger.error("history for the poisoning check unavailable: %s", type(error).__name__)
            return None
        return poisoned_destination(tx, sent, baits)
