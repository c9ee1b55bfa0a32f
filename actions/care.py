"""Wallet care: watches on pending transfers, address poisoning, approvals and whether a pasted
address, link or contact is official."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.wallet_action import WalletAction, send
from bot.action_services import services
from bot.care.approvals import assess
from bot.care.poisoning import lookalikes, pasted_lookalike, split_baits
from bot.care.watches import WatchStore
from bot.dialogue.replies import Reply
from bot.dialogue.transfer_check import transfer_replies
from bot.dialogue.wallet_care import (
    address_check_replies,
    approval_replies,
    pasted_poisoned_replies,
    safety_replies,
)
from bot.link_safety.candidates import candidates
from bot.link_safety.records import Candidate, Kind
from bot.privacy import mask_hash
from bot.wallet.errors import NotFound, TransactionNotFound, WalletError
from bot.wallet.records import Direction, NetworkFee, Transaction, TxStatus

logger = logging.getLogger(__name__)

# How much of the history the lookalike checks read.
HISTORY_TRANSFERS = 200
HISTORY_DUST = 50
# Values checked in one message: a pasted list does not turn into a flood of checks.
MAX_PASTED = 5


class ActionWatchTransfer(WalletAction):
    """「到账了通知我」: watches the proven owner's pending transfer (the button's hash, else the
    one just explained); the watcher (``bot.care.watcher``) tells them when it settles."""

    def __init__(self, watches: WatchStore | None = None, **ports: Any) -> None:
        super().__init__(**ports)
        self._watches = watches

    @property
    def watches(self) -> WatchStore:
        return self._watches or services().watches

    def name(self) -> str:
        return "action_watch_transfer"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        if account_id is None:
            send(dispatcher, [Reply("utter_login_to_check")])
            return []
        tx_hash = next(tracker.get_latest_entity_values("tx_hash"), None) or tracker.get_slot(
            "watch_tx_hash"
        )
        if not tx_hash:
            send(dispatcher, [Reply("utter_watch_which")])
            return []
        try:
            tx = await self.call(self.wallet.transaction, account_id, tx_hash)
        except TransactionNotFound:  # not the user's: nothing is watched
            send(dispatcher, [Reply("utter_transfer_unknown_hash", {"tx": mask_hash(tx_hash)})])
            return []
        now = self.clock()
        if tx.status is not TxStatus.PENDING:  # settled meanwhile: say how
            settings = services().settings.transfer_check
            send(dispatcher, transfer_replies(tx, None, now, settings))
            return []
        watch = await self.call(
            self.watches.start,
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "",
            account_id=account_id,
            tx_hash=tx.tx_hash,
            chain=tx.chain,
            status=tx.status,
            now=now,
        )
        values = {"tx": mask_hash(tx.tx_hash), "hours": f"{services().settings.watches.hours:g}"}
        response = "utter_watch_started" if watch.created_at >= now else "utter_watch_already"
        send(dispatcher, [Reply(response, values)])
        return []


class ActionCheckAddressSafety(WalletAction):
    """「帮我检查一下地址安全吗」: what the user pasted, else every lookalike in their history."""

    def name(self) -> str:
        return "action_check_address_safety"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        values = pasted(tracker)
        if values:
            send(dispatcher, await check_pasted(self, values, account_id))
            return []
        if account_id is None:
            send(dispatcher, [Reply("utter_login_to_check_wallet")])
            return []
        sent, baits = await history(self, account_id)
        found = lookalikes(sent, baits)
        send(dispatcher, address_check_replies(found, sent, self.display_zone))
        return []


class ActionVerifyOfficial(WalletAction):
    """「这个是官方客服吗」: official, a known scam or unknown, for each pasted value."""

    def name(self) -> str:
        return "action_verify_official"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        send(dispatcher, await check_pasted(self, pasted(tracker), account_id))
        return []


class ActionCheckApprovals(WalletAction):
    """「我的授权安全吗」: the proven owner's approvals by risk, the revoke steps and the fee."""

    def name(self) -> str:
        return "action_check_approvals"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        if account_id is None:
            login = [Reply("utter_approvals_how_to"), Reply("utter_login_to_check_wallet")]
            send(dispatcher, login)
            return []
        approvals = await self.call(self.wallet.approvals, account_id)
        assessed = await self.call(assess, approvals, self.link_safety.denylisted, self.clock())
        fees = await network_fees(self, {approval.chain for approval in approvals})
        send(dispatcher, approval_replies(assessed, fees, self.display_zone))
        return []


def pasted(tracker: Tracker) -> list[Candidate]:
    """The addresses, links and contacts the message names, at most ``MAX_PASTED``."""
    return candidates(tracker.latest_message.get("text") or "")[:MAX_PASTED]


async def check_pasted(
    action: WalletAction, found: Sequence[Candidate], account_id: str | None
) -> list[Reply]:
    """Each pasted value's verdict; for the proven owner, also a pasted address that imitates
    one they sent to (the urgent poisoning warning)."""
    safety = action.link_safety
    checked = [(candidate, await action.call(safety.check, candidate)) for candidate in found]
    replies = safety_replies(checked)
    addresses = [candidate for candidate in found if candidate.kind is Kind.ADDRESS]
    if account_id is None or not addresses:
        return replies
    try:
        sent, baits = await history(action, account_id)
    except WalletError as error:  # the lists' verdict still stands
        logger.error("history for the pasted-address check unavailable: %s", type(error).__name__)
        return replies
    for candidate in addresses:
        warning = pasted_lookalike(candidate.value, sent, baits)
        if warning is not None:
            return pasted_poisoned_replies(warning) + replies
    return replies


async def history(
    action: WalletAction, account_id: str
) -> tuple[list[Transaction], list[Transaction]]:
    """The user's real outgoing transfers and the baits (``bot.care.poisoning.split_baits``)."""
    sent, dust = await asyncio.gather(
        action.call(action.wallet.transactions, account_id, Direction.OUT, HISTORY_TRANSFERS),
        action.call(action.wallet.dust_transfers, account_id, HISTORY_DUST),
    )
    return split_baits(sent, dust)


async def network_fees(action: WalletAction, chains: set[str]) -> dict[str, NetworkFee]:
    fees = {}
    for chain in sorted(chains):
        try:
            fees[chain] = await action.call(action.wallet.network_fee, chain)
        except NotFound:
            continue
    return fees
