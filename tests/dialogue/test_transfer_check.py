from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.care.poisoning import Lookalike
from bot.dialogue.transfer_check import TransferCheckSettings, transfer_replies
from bot.dialogue.wallet_care import poisoned_transfer_replies
from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from tests.support.conversation import NOW

SETTINGS = TransferCheckSettings(pending_alert_after=timedelta(minutes=60))


def names(sql_wallet: SqlWalletService, tx_hash: str, now=NOW) -> list[str]:  # type: ignore[no-untyped-def]
    tx = sql_wallet.transaction(demo_data.ALICE, tx_hash)
    return [
        r.response for r in transfer_replies(tx, sql_wallet.network_fee(tx.chain), now, SETTINGS)
    ]


def test_pending_with_a_fee_below_the_network_fee_explains_speed_up(
    sql_wallet: SqlWalletService,
) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_PENDING_LOW_FEE)
    replies = transfer_replies(tx, sql_wallet.network_fee("ETH"), NOW, SETTINGS)
    assert [r.response for r in replies] == [
        "utter_transfer_pending_status",
        "utter_transfer_fee_too_low",
        "utter_transfer_explorer",
    ]
    assert replies[0].values["minutes"] == 25
    assert replies[1].values["fee_paid"] == "0.00021"
    assert replies[1].values["fee_now"] == "0.0008"


def test_pending_past_the_threshold_explains_and_offers_a_human(
    sql_wallet: SqlWalletService,
) -> None:
    assert names(sql_wallet, demo_data.TX_PENDING_LONG) == [
        "utter_transfer_pending_status",
        "utter_transfer_stuck_utxo",
        "utter_transfer_pending_long",
        "utter_transfer_explorer",
    ]


def test_fresh_pending_with_enough_fee_asks_to_wait(sql_wallet: SqlWalletService) -> None:
    assert names(sql_wallet, demo_data.TX_PENDING_FRESH) == [
        "utter_transfer_pending_status",
        "utter_transfer_pending_wait",
        "utter_transfer_explorer",
    ]


def test_a_tron_transfer_pending_for_55_minutes_is_not_soon(
    sql_wallet: SqlWalletService,
) -> None:
    # TRON confirms within about a minute: 55 minutes is far outside normal, before the alert.
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_PENDING_FRESH)
    later = tx.created_at + timedelta(minutes=55)
    replies = transfer_replies(tx, sql_wallet.network_fee("TRON"), later, SETTINGS)
    assert [r.response for r in replies] == [
        "utter_transfer_pending_status",
        "utter_transfer_stuck_tron",
        "utter_transfer_pending_long",
        "utter_transfer_explorer",
    ]
    assert replies[2].values["minutes"] == 55


def test_a_short_wait_on_a_fast_chain_is_not_overdue(sql_wallet: SqlWalletService) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_PENDING_FRESH)
    replies = transfer_replies(tx, None, tx.created_at + timedelta(minutes=9), SETTINGS)
    assert "utter_transfer_pending_wait" in [r.response for r in replies]
    assert "utter_transfer_pending_long" not in [r.response for r in replies]


def test_a_low_fee_on_bitcoin_points_to_replace_by_fee(sql_wallet: SqlWalletService) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_PENDING_LONG)
    cheap = replace(tx, fee=Decimal("0.000001"))
    replies = transfer_replies(cheap, sql_wallet.network_fee("BTC"), NOW, SETTINGS)
    assert "utter_transfer_fee_too_low_rbf" in [r.response for r in replies]


def test_failed_transfers_give_the_reason_and_whether_the_fee_was_spent(
    sql_wallet: SqlWalletService,
) -> None:
    assert names(sql_wallet, demo_data.TX_FAILED_OUT_OF_GAS) == [
        "utter_transfer_failed",
        "utter_failure_out_of_gas",
        "utter_transfer_failed_fee_spent",
        "utter_transfer_explorer",
    ]
    assert names(sql_wallet, demo_data.TX_FAILED_WRONG_NETWORK) == [
        "utter_transfer_failed",
        "utter_failure_wrong_network",
        "utter_transfer_failed_no_fee",
        "utter_transfer_explorer",
    ]
    assert names(sql_wallet, demo_data.TX_FAILED_REVERTED)[1] == "utter_failure_reverted"


def test_confirmed_and_dropped(sql_wallet: SqlWalletService) -> None:
    assert names(sql_wallet, demo_data.TX_CONFIRMED) == [
        "utter_transfer_confirmed_out",
        "utter_transfer_explorer",
        "utter_evidence_card",
    ]
    assert names(sql_wallet, demo_data.TX_INCOMING) == [
        "utter_transfer_confirmed_in",
        "utter_transfer_explorer",
    ]
    assert names(sql_wallet, demo_data.TX_DROPPED) == [
        "utter_transfer_dropped",
        "utter_transfer_explorer",
    ]


def test_every_answer_links_the_chains_explorer(sql_wallet: SqlWalletService) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_PENDING_LOW_FEE)
    explorer = transfer_replies(tx, None, NOW, SETTINGS)[-1]
    assert explorer.values["explorer_link"] == f"https://etherscan.io/tx/{tx.tx_hash}"
    btc = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_PENDING_LONG)
    link = transfer_replies(btc, None, NOW, SETTINGS)[-1].values["explorer_link"]
    assert link == f"https://mempool.space/tx/{btc.tx_hash}"


def test_the_evidence_card_holds_what_an_exchange_asks_for(sql_wallet: SqlWalletService) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_CONFIRMED)
    card = transfer_replies(tx, None, NOW, SETTINGS)[-1]
    assert card.response == "utter_evidence_card"
    assert card.values["txid"] == tx.tx_hash  # whole: the exchange looks it up
    assert (card.values["from_address"], card.values["to_address"]) == (
        tx.from_address,
        tx.to_address,
    )
    assert (card.values["amount"], card.values["currency"], card.values["chain"]) == (
        "500",
        "USDT",
        "TRON",
    )
    assert card.values["confirmations"] == 25
    assert card.values["time"].endswith(" UTC")
    assert card.values["explorer_link"].startswith("https://tronscan.org/")


def test_hashes_and_addresses_are_masked_in_the_explanation(
    sql_wallet: SqlWalletService,
) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_CONFIRMED)
    reply = transfer_replies(tx, None, NOW, SETTINGS)[0]
    assert reply.values["tx"] != tx.tx_hash and "…" in reply.values["tx"]
    assert reply.values["to"] != tx.to_address and "…" in reply.values["to"]


def test_a_pending_transfer_to_a_lookalike_is_cancelled_not_sped_up(
    sql_wallet: SqlWalletService,
) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_PENDING_LOW_FEE)
    lookalike = Lookalike("ETH", tx.to_address, demo_data.EXCHANGE_ETH, tx.created_at, None)
    explained = transfer_replies(tx, sql_wallet.network_fee("ETH"), NOW, SETTINGS)
    replies = poisoned_transfer_replies(lookalike, tx, explained, ZoneInfo("Asia/Shanghai"))
    assert [r.response for r in replies] == [
        "utter_address_poisoned",
        "utter_poisoned_pending_cancel",
        "utter_transfer_explorer",
    ]
    on_tron = replace(tx, chain="TRON")
    replies = poisoned_transfer_replies(lookalike, on_tron, explained, ZoneInfo("Asia/Shanghai"))
    assert replies[1].response == "utter_poisoned_pending"
