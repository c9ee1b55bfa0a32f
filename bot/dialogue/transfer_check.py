"""What to tell a user about one of their transfers, given its state and today's network fee.

A pending transfer is judged against its chain's normal time: one with an adequate fee waiting
many times longer (``OVERDUE_FACTOR``) is not "soon" even before PENDING_ALERT_MINUTES, so the
user hears what such a wait usually means on that chain and is offered a human. Every answer
ends with the transfer's block-explorer page; a confirmed outgoing transfer also gets the
evidence card the receiving exchange's support asks for (full hash, addresses, amount, chain,
time in UTC, confirmations).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.dialogue.replies import Reply, shown_time
from bot.nlu.amounts import format_amount
from bot.privacy import mask_address, mask_hash
from bot.settings import ConfigError
from bot.wallet.explorers import explorer_link
from bot.wallet.records import Direction, NetworkFee, Transaction, TxStatus

# Minutes a transfer usually needs to confirm when its fee is adequate.
EXPECTED_MINUTES = {"BTC": 30, "LTC": 10, "ETH": 1, "TRON": 1, "BSC": 1, "POLYGON": 1, "SOLANA": 1}
# Chains where a pending transfer is replaced with a higher fee by "加速"/"取消" (same nonce).
NONCE_CHAINS = {"ETH", "BSC", "POLYGON"}
# A pending transfer waiting this many times its chain's normal time is overdue.
OVERDUE_FACTOR = 10
# What a wait far beyond normal usually means, per chain family (the response's suffix).
STUCK_CAUSES = {
    "TRON": "tron",
    "ETH": "nonce",
    "BSC": "nonce",
    "POLYGON": "nonce",
    "BTC": "utxo",
    "LTC": "utxo",
    "SOLANA": "solana",
}


@dataclass(frozen=True)
class TransferCheckSettings:
    """PENDING_ALERT_MINUTES: how long a pending transfer may take before a human is offered."""

    pending_alert_after: timedelta

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TransferCheckSettings:
        raw = env.get("PENDING_ALERT_MINUTES") or "60"
        if not raw.isdigit() or int(raw) == 0:
            raise ConfigError(f"PENDING_ALERT_MINUTES must be a positive number, got {raw!r}")
        return cls(timedelta(minutes=int(raw)))


def transfer_replies(
    tx: Transaction,
    fee: NetworkFee | None,
    now: datetime,
    settings: TransferCheckSettings,
) -> list[Reply]:
    """The replies that explain ``tx`` to its owner."""
    values = {
        "amount": format_amount(tx.amount),
        "currency": tx.currency,
        "tx": mask_hash(tx.tx_hash),
        "chain": tx.chain,
        "confirmations": tx.confirmations,
        "fee_paid": format_amount(tx.fee),
        "fee_currency": tx.fee_currency,
        "to": mask_address(tx.to_address),
    }
    return [*_state(tx, fee, now, settings, values), *_proof(tx)]


def _state(
    tx: Transaction,
    fee: NetworkFee | None,
    now: datetime,
    settings: TransferCheckSettings,
    values: dict[str, object],
) -> list[Reply]:
    if tx.status is TxStatus.PENDING:
        return _pending(tx, fee, now, settings, values)
    if tx.status is TxStatus.FAILED:
        reason = tx.failure_reason.value if tx.failure_reason else "unknown"
        spent = "utter_transfer_failed_fee_spent" if tx.fee > 0 else "utter_transfer_failed_no_fee"
        return [
            Reply("utter_transfer_failed", values),
            Reply(f"utter_failure_{reason}", values),
            Reply(spent, values),
        ]
    if tx.status is TxStatus.DROPPED:
        return [Reply("utter_transfer_dropped", values)]
    if tx.direction is Direction.IN:
        return [Reply("utter_transfer_confirmed_in", values)]
    return [Reply("utter_transfer_confirmed_out", values)]


def _pending(
    tx: Transaction,
    fee: NetworkFee | None,
    now: datetime,
    settings: TransferCheckSettings,
    values: dict[str, object],
) -> list[Reply]:
    waited = now - tx.created_at
    expected = EXPECTED_MINUTES.get(tx.chain, 10)
    status_values = {
        **values,
        "minutes": max(int(waited.total_seconds() // 60), 1),
        "expected_minutes": expected,
    }
    replies = [Reply("utter_transfer_pending_status", status_values)]
    fee_too_low = (
        fee is not None and fee.fee_currency == tx.fee_currency and tx.fee < fee.typical_fee
    )
    if fee_too_low and fee is not None:
        fee_values = {**values, "fee_now": format_amount(fee.typical_fee)}
        speed_up = (
            "utter_transfer_fee_too_low"
            if tx.chain in NONCE_CHAINS
            else "utter_transfer_fee_too_low_rbf"
        )
        replies.append(Reply(speed_up, fee_values))
    # A low fee explains the wait and the user can speed it up; otherwise a wait far beyond the
    # chain's normal time has another cause, and a human is offered before the alert time.
    overdue = not fee_too_low and waited >= timedelta(minutes=expected * OVERDUE_FACTOR)
    if waited >= settings.pending_alert_after or overdue:
        if not fee_too_low:
            cause = STUCK_CAUSES.get(tx.chain, "unknown")
            replies.append(Reply(f"utter_transfer_stuck_{cause}", status_values))
        replies.append(Reply("utter_transfer_pending_long", status_values))
    elif not fee_too_low:
        replies.append(Reply("utter_transfer_pending_wait", status_values))
    return replies


def _proof(tx: Transaction) -> list[Reply]:
    """The explorer page, and for a confirmed outgoing transfer the evidence card."""
    link = explorer_link(tx.chain, tx.tx_hash)
    replies = [Reply("utter_transfer_explorer", {"explorer_link": link})] if link else []
    if tx.status is TxStatus.CONFIRMED and tx.direction is Direction.OUT:
        card = {
            "txid": tx.tx_hash,
            "from_address": tx.from_address,
            "to_address": tx.to_address,
            "amount": format_amount(tx.amount),
            "currency": tx.currency,
            "chain": tx.chain,
            "time": f"{tx.created_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
            "confirmations": tx.confirmations,
            "explorer_link": link or "",
        }
        replies.append(Reply("utter_evidence_card", card))
    return replies


def transfer_buttons(recent: Sequence[Transaction], zone: ZoneInfo) -> list[dict[str, str]]:
    """One button per recent transfer ("0.5 ETH → 0x12ab…cdef · 11-23 10:20"), sending its hash."""
    return [
        {
            "title": (
                f"{format_amount(tx.amount)} {tx.currency} → {mask_address(tx.to_address)}"
                f" · {shown_time(tx.created_at, zone)}"
            ),
            "payload": f'/transfer_pending{{"tx_hash":"{tx.tx_hash}"}}',
        }
        for tx in recent
    ]
