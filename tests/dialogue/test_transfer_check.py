from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from bot.dialogue.transfer_check import TransferCheckSettings, transfer_replies
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
    ]
    assert replies[0].values["minutes"] == 25
    assert replies[1].values["fee_paid"] == "0.00021"
    assert replies[1].values["fee_now"] == "0.0008"


def test_pending_past_the_threshold_offers_a_human(sql_wallet: SqlWalletService) -> None:
    assert names(sql_wallet, demo_data.TX_PENDING_LONG) == [
        "utter_transfer_pending_status",
        "utter_transfer_pending_long",
    ]


def test_fresh_pending_with_enough_fee_asks_to_wait(sql_wallet: SqlWalletService) -> None:
    assert names(sql_wallet, demo_data.TX_PENDING_FRESH) == [
        "utter_transfer_pending_status",
        "utter_transfer_pending_wait",
    ]


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
    ]
    assert names(sql_wallet, demo_data.TX_FAILED_WRONG_NETWORK) == [
        "utter_transfer_failed",
        "utter_failure_wrong_network",
        "utter_transfer_failed_no_fee",
    ]
    assert names(sql_wallet, demo_data.TX_FAILED_REVERTED)[1] == "utter_failure_reverted"


def test_confirmed_and_dropped(sql_wallet: SqlWalletService) -> None:
    assert names(sql_wallet, demo_data.TX_CONFIRMED) == ["utter_transfer_confirmed_out"]
    assert names(sql_wallet, demo_data.TX_INCOMING) == ["utter_transfer_confirmed_in"]
    assert names(sql_wallet, demo_data.TX_DROPPED) == ["utter_transfer_dropped"]


def test_hashes_and_addresses_are_masked(sql_wallet: SqlWalletService) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_CONFIRMED)
    (reply,) = transfer_replies(tx, None, NOW, SETTINGS)
    assert reply.values["tx"] != tx.tx_hash and "…" in reply.values["tx"]
    assert reply.values["to"] != tx.to_address and "…" in reply.values["to"]
