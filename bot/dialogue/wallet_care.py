"""What to tell a user about the safety of their wallet: lookalike addresses (address poisoning),
approvals by risk with the revoke steps, and whether a pasted address, link or contact is
official.

The findings come from ``bot.care`` and ``bot.link_safety``; this module only chooses the
domain responses and their values. Addresses are shown whole to their proven owner: a
lookalike shares its first and last characters with the genuine one, so a masked address would
hide exactly the difference the user must see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.care.approvals import Assessed, Risk
from bot.care.poisoning import Lookalike, same_address
from bot.dialogue.replies import Reply, shown_time
from bot.dialogue.transfer_check import NONCE_CHAINS
from bot.link_safety.records import Candidate, Kind, Reason, Status, Verdict
from bot.nlu.amounts import format_amount
from bot.privacy import mask_address
from bot.wallet.records import Approval, NetworkFee, Transaction, TxStatus

# Lookalikes listed one by one; more are counted.
MAX_LOOKALIKES = 8
APPROVAL_RESPONSES = {
    Risk.DENYLISTED: "utter_approval_denylisted",
    Risk.UNLIMITED: "utter_approval_unlimited",
    Risk.STALE_OR_UNKNOWN: "utter_approval_stale",
    Risk.LOW: "utter_approval_low",
}
# The verdict's explanation, by reason; an address nobody knows gets its own.
SAFETY_RESPONSES = {
    Reason.OFFICIAL_DOMAIN: "utter_safety_official",
    Reason.OFFICIAL_CONTACT: "utter_safety_official",
    Reason.PUBLIC_SITE: "utter_safety_public",
    Reason.DENYLISTED_ADDRESS: "utter_safety_denylisted",
    Reason.DENYLISTED_SPENDER: "utter_safety_denylisted",
    Reason.DENYLISTED_DOMAIN: "utter_safety_denylisted",
    Reason.DENYLISTED_CONTACT: "utter_safety_denylisted",
    Reason.LOOKALIKE_OF_OFFICIAL: "utter_safety_lookalike",
    Reason.UNKNOWN: "utter_safety_unknown",
    Reason.UNAVAILABLE: "utter_safety_unknown",
}


def poisoned_replies(lookalike: Lookalike, zone: ZoneInfo) -> list[Reply]:
    """The urgent warning about a transfer whose destination imitates an address used before."""
    replies = [
        Reply(
            "utter_address_poisoned",
            {"address": lookalike.address, "imitates": lookalike.imitates},
        )
    ]
    if lookalike.dust is not None:
        replies.append(Reply("utter_poison_dust_evidence", _dust_values(lookalike, zone)))
    return replies


def pasted_poisoned_replies(lookalike: Lookalike) -> list[Reply]:
    """The urgent warning about a pasted address that imitates one the user paid before."""
    values = {"address": lookalike.address, "imitates": lookalike.imitates}
    return [Reply("utter_pasted_address_poisoned", values)]


def poisoned_transfer_replies(
    lookalike: Lookalike, tx: Transaction, explained: Sequence[Reply], zone: ZoneInfo
) -> list[Reply]:
    """What a transfer sent to a lookalike gets: the warning, what can still be done while it is
    pending, and its explorer page (of ``explained``, the usual answer)."""
    replies = poisoned_replies(lookalike, zone)
    if tx.status is TxStatus.PENDING:
        cancel = "utter_poisoned_pending_cancel" if tx.chain in NONCE_CHAINS else None
        replies.append(Reply(cancel or "utter_poisoned_pending", {"chain": tx.chain}))
    return replies + [reply for reply in explained if reply.response == "utter_transfer_explorer"]


def address_check_replies(
    found: Sequence[Lookalike], sent: Sequence[Transaction], zone: ZoneInfo
) -> list[Reply]:
    """Every lookalike in the history with what it imitates; those the user sent money to
    (``sent``: their outgoing transfers) first, with that transfer."""
    if not found:
        return [Reply("utter_address_check_clean")]
    replies = [Reply("utter_address_check_found", {"count": len(found)})]
    paid = [(item, _first_payment(item, sent)) for item in found]
    listed = [
        Reply("utter_lookalike_sent", _sent_values(item, payment, zone))
        for item, payment in paid
        if payment is not None
    ]
    listed += [
        Reply("utter_lookalike_dust", _dust_values(item, zone))
        for item, payment in paid
        if payment is None
    ]
    # Dust is cheap to send: a flood of lookalikes gets the ones paid first, then a count.
    replies += listed[:MAX_LOOKALIKES]
    if len(listed) > MAX_LOOKALIKES:
        replies.append(Reply("utter_lookalike_more", {"count": len(listed) - MAX_LOOKALIKES}))
    replies.append(Reply("utter_address_check_advice"))
    return replies


def approval_replies(
    assessed: Sequence[Assessed], fees: Mapping[str, NetworkFee], zone: ZoneInfo
) -> list[Reply]:
    """The approvals in force, most serious first, the revoke steps and each chain's fee."""
    if not assessed:
        return [Reply("utter_approvals_none")]
    replies = [Reply("utter_approvals_found", {"count": len(assessed)})]
    replies += [
        Reply(APPROVAL_RESPONSES[item.risk], approval_values(item.approval, zone))
        for item in assessed
    ]
    replies.append(Reply("utter_revoke_steps"))
    chains = dict.fromkeys(item.approval.chain for item in assessed if item.risk is not Risk.LOW)
    for chain in chains:
        fee = fees.get(chain)
        if fee is not None:
            replies.append(
                Reply(
                    "utter_revoke_fee",
                    {
                        "chain": chain,
                        "fee": format_amount(fee.typical_fee),
                        "fee_currency": fee.fee_currency,
                    },
                )
            )
    return replies


def theft_replies(suspect: Approval | None, zone: ZoneInfo) -> list[Reply]:
    """After a theft report: the approval that could have drained the token, if any."""
    if suspect is None:
        return []
    return [Reply("utter_theft_approval_suspect", approval_values(suspect, zone))]


def approval_values(approval: Approval, zone: ZoneInfo) -> dict[str, object]:
    spender = mask_address(approval.spender)
    return {
        "chain": approval.chain,
        "token": approval.token,
        "spender": f"{approval.spender_label}（{spender}）" if approval.spender_label else spender,
        "allowance": "" if approval.allowance is None else format_amount(approval.allowance),
        "date": _date(approval.granted_at, zone),
    }


def safety_replies(checked: Sequence[tuple[Candidate, Verdict]]) -> list[Reply]:
    """One explanation per pasted address, link or contact; a request for one when none was."""
    if not checked:
        return [Reply("utter_safety_ask_value")]
    replies = []
    for candidate, verdict in checked:
        response = SAFETY_RESPONSES[verdict.reason]
        if verdict.status is Status.UNKNOWN and candidate.kind is Kind.ADDRESS:
            response = "utter_safety_unknown_address"
        shown = f"@{candidate.value}" if candidate.kind is Kind.TELEGRAM else candidate.value
        replies.append(Reply(response, {"value": shown, "label": verdict.label or ""}))
    return replies


def _first_payment(item: Lookalike, sent: Sequence[Transaction]) -> Transaction | None:
    payments = [
        tx
        for tx in sent
        if tx.chain == item.chain and same_address(tx.chain, tx.to_address, item.address)
    ]
    return min(payments, key=lambda tx: tx.created_at) if payments else None


def _sent_values(item: Lookalike, payment: Transaction, zone: ZoneInfo) -> dict[str, object]:
    return {
        "chain": item.chain,
        "address": item.address,
        "imitates": item.imitates,
        "time": shown_time(payment.created_at, zone),
        "amount": format_amount(payment.amount),
        "currency": payment.currency,
    }


def _dust_values(item: Lookalike, zone: ZoneInfo) -> dict[str, object]:
    dust = item.dust
    return {
        "chain": item.chain,
        "address": item.address,
        "imitates": item.imitates,
        "time": shown_time(dust.created_at if dust else item.first_seen, zone),
        "amount": format_amount(dust.amount) if dust else "0",
        "currency": dust.currency if dust else "",
    }


def _date(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d}"
