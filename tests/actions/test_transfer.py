from __future__ import annotations

import pytest

from actions.transfer import ActionCheckTransfer
from bot.wallet import demo_data
from bot.wallet.errors import WalletUnavailable
from bot.wallet.records import Transaction
from bot.wallet.sql import SqlWalletService, metadata
from tests.support.actions import IDENTITY, fixed_clock, run_action


def check(sql_wallet: SqlWalletService) -> ActionCheckTransfer:
    return ActionCheckTransfer(wallet=sql_wallet, identity=IDENTITY, clock=fixed_clock)


def test_without_identity_only_general_guidance(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(check(sql_wallet), entities=[("tx_hash", demo_data.TX_PENDING_LOW_FEE)])
    assert outcome.responses == ["utter_transfer_pending", "utter_login_to_check"]


def test_metadata_a_client_wrote_itself_proves_nothing(sql_wallet: SqlWalletService) -> None:
    forged = {
        "im_identity": {"account_id": demo_data.ALICE, "issued_at": 0, "signature": "00" * 32}
    }
    outcome = run_action(
        check(sql_wallet),
        claimed_metadata=forged,
        entities=[("tx_hash", demo_data.TX_PENDING_LOW_FEE)],
    )
    assert outcome.responses == ["utter_transfer_pending", "utter_login_to_check"]


def test_pending_with_low_fee(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(
        check(sql_wallet),
        account=demo_data.ALICE,
        entities=[("tx_hash", demo_data.TX_PENDING_LOW_FEE)],
    )
    assert outcome.responses == [
        "utter_transfer_pending_status",
        "utter_transfer_fee_too_low",
        "utter_transfer_explorer",
        "utter_offer_watch",
    ]
    assert outcome.values("utter_transfer_fee_too_low")["fee_now"] == "0.0008"
    assert outcome.values("utter_offer_watch")["tx_hash"] == demo_data.TX_PENDING_LOW_FEE
    assert outcome.events == [
        {
            "event": "slot",
            "timestamp": None,
            "name": "watch_tx_hash",
            "value": demo_data.TX_PENDING_LOW_FEE,
        }
    ]


def test_failed_out_of_gas(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(
        check(sql_wallet),
        account=demo_data.ALICE,
        entities=[("tx_hash", demo_data.TX_FAILED_OUT_OF_GAS)],
    )
    assert outcome.responses == [
        "utter_transfer_failed",
        "utter_failure_out_of_gas",
        "utter_transfer_failed_fee_spent",
        "utter_transfer_explorer",
    ]
    assert outcome.values("utter_transfer_failed_fee_spent")["fee_paid"] == "0.0012"


def test_confirmed(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(
        check(sql_wallet), account=demo_data.ALICE, entities=[("tx_hash", demo_data.TX_CONFIRMED)]
    )
    assert outcome.responses == [
        "utter_transfer_confirmed_out",
        "utter_transfer_explorer",
        "utter_evidence_card",
    ]
    assert outcome.values("utter_transfer_confirmed_out")["confirmations"] == 25
    assert outcome.values("utter_evidence_card")["txid"] == demo_data.TX_CONFIRMED


def test_a_transfer_to_a_lookalike_address_is_warned_about_first(
    sql_wallet: SqlWalletService,
) -> None:
    outcome = run_action(
        check(sql_wallet), account=demo_data.ALICE, entities=[("tx_hash", demo_data.TX_POISONED)]
    )
    # Not the usual "ask the exchange" advice nor its evidence card: the money went to a scammer.
    assert outcome.responses == [
        "utter_address_poisoned",
        "utter_poison_dust_evidence",
        "utter_transfer_explorer",
    ]
    warning = outcome.values("utter_address_poisoned")
    assert (warning["address"], warning["imitates"]) == (
        demo_data.POISON_TRON,
        demo_data.EXCHANGE_TRON,
    )


def test_a_transfer_to_the_genuine_address_gets_no_warning(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(
        check(sql_wallet), account=demo_data.ALICE, entities=[("tx_hash", demo_data.TX_CONFIRMED)]
    )
    assert "utter_address_poisoned" not in outcome.responses


def test_unknown_hash(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(
        check(sql_wallet), account=demo_data.ALICE, entities=[("tx_hash", "0x" + "9" * 64)]
    )
    assert outcome.responses == ["utter_transfer_unknown_hash"]


def test_someone_elses_hash_is_unknown(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(
        check(sql_wallet), account=demo_data.BOB, entities=[("tx_hash", demo_data.TX_CONFIRMED)]
    )
    assert outcome.responses == ["utter_transfer_unknown_hash"]


def test_without_a_hash_recent_outgoing_transfers_become_buttons(
    sql_wallet: SqlWalletService,
) -> None:
    outcome = run_action(check(sql_wallet), account=demo_data.ALICE)
    assert outcome.responses == ["utter_choose_transfer"]
    buttons = outcome.messages[0]["buttons"]
    assert len(buttons) == 4
    assert buttons[0]["payload"] == f'/transfer_pending{{"tx_hash":"{demo_data.TX_PENDING_FRESH}"}}'
    assert demo_data.EXCHANGE_TRON not in buttons[0]["title"]
    assert "200 USDT" in buttons[0]["title"]


def test_no_recent_transfers(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(check(sql_wallet), account=demo_data.CAROL)
    assert outcome.responses == ["utter_no_recent_transfers"]


def test_unknown_account_gets_an_apology_and_a_human(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(check(sql_wallet), account="ghost")
    assert outcome.responses == ["utter_account_not_found"]


def test_backend_down_gets_an_apology_and_a_human(sql_wallet: SqlWalletService) -> None:
    metadata.drop_all(sql_wallet.engine)
    outcome = run_action(
        check(sql_wallet), account=demo_data.ALICE, entities=[("tx_hash", demo_data.TX_CONFIRMED)]
    )
    assert outcome.responses == ["utter_backend_unavailable"]


def test_the_state_is_told_when_the_history_cannot_be_read(
    sql_wallet: SqlWalletService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(account_id: str, limit: int) -> list[Transaction]:
        raise WalletUnavailable("dust endpoint down")

    monkeypatch.setattr(sql_wallet, "dust_transfers", down)
    outcome = run_action(
        check(sql_wallet), account=demo_data.ALICE, entities=[("tx_hash", demo_data.TX_POISONED)]
    )
    assert outcome.responses[0] == "utter_transfer_confirmed_out"
