from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.wallet import demo_data
from bot.wallet.errors import AccountNotFound, NotFound, TransactionNotFound
from bot.wallet.records import (
    Direction,
    FailureReason,
    Priority,
    TicketDraft,
    TicketKind,
    TicketState,
    TxStatus,
)
from bot.wallet.sql import SqlWalletService
from tests.support.conversation import NOW


def test_account_fields_come_back_typed(sql_wallet: SqlWalletService) -> None:
    bob = sql_wallet.account(demo_data.BOB)
    assert bob.two_factor_enabled
    assert bob.locked_until == NOW + timedelta(minutes=18)
    assert bob.locked_until.tzinfo is not None
    assert bob.is_locked(NOW)
    assert not bob.is_locked(NOW + timedelta(minutes=19))


def test_unknown_account_raises(sql_wallet: SqlWalletService) -> None:
    with pytest.raises(AccountNotFound):
        sql_wallet.account("nobody")


def test_logins_since_a_time_newest_first(sql_wallet: SqlWalletService) -> None:
    recent = sql_wallet.logins(demo_data.ALICE, NOW - timedelta(days=7))
    assert [login.device for login in recent] == ["Windows PC", "iPhone 15"]
    assert recent[0].new_device
    assert sql_wallet.logins(demo_data.ALICE, NOW - timedelta(days=1))[0].location == "Lagos, NG"


def test_transaction_amounts_are_exact_decimals(sql_wallet: SqlWalletService) -> None:
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_PENDING_LOW_FEE)
    assert tx.amount == Decimal("0.5")
    assert tx.fee == Decimal("0.00021")
    assert tx.status is TxStatus.PENDING
    failed = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_FAILED_OUT_OF_GAS)
    assert failed.failure_reason is FailureReason.OUT_OF_GAS


def test_hash_lookup_ignores_case(sql_wallet: SqlWalletService) -> None:
    upper = demo_data.TX_CONFIRMED.upper()
    assert sql_wallet.transaction(demo_data.ALICE, upper).tx_hash == demo_data.TX_CONFIRMED


def test_another_accounts_transaction_is_not_found(sql_wallet: SqlWalletService) -> None:
    with pytest.raises(TransactionNotFound):
        sql_wallet.transaction(demo_data.BOB, demo_data.TX_CONFIRMED)


@pytest.mark.parametrize("hostile", ["' OR '1'='1", "0x'; DROP TABLE wallet_transactions; --", "%"])
def test_hostile_hashes_reach_sql_only_as_parameters(
    sql_wallet: SqlWalletService, hostile: str
) -> None:
    with pytest.raises(TransactionNotFound):
        sql_wallet.transaction(demo_data.ALICE, hostile)
    assert len(sql_wallet.transactions(demo_data.ALICE, Direction.OUT, 50)) == 8


def test_recent_transactions_by_direction_newest_first(sql_wallet: SqlWalletService) -> None:
    recent = sql_wallet.transactions(demo_data.ALICE, Direction.OUT, 3)
    assert [tx.tx_hash for tx in recent] == [
        demo_data.TX_PENDING_FRESH,
        demo_data.TX_PENDING_LOW_FEE,
        demo_data.TX_CONFIRMED,
    ]
    incoming = sql_wallet.transactions(demo_data.ALICE, Direction.IN, 10)
    assert [tx.tx_hash for tx in incoming] == [demo_data.TX_INCOMING]


def test_network_fee_quotes(sql_wallet: SqlWalletService) -> None:
    assert sql_wallet.network_fee("ETH").typical_fee == Decimal("0.0008")
    with pytest.raises(NotFound):
        sql_wallet.network_fee("DOGE")


def test_freeze_sets_the_flag_and_opens_an_urgent_incident(sql_wallet: SqlWalletService) -> None:
    ticket = sql_wallet.freeze_account(demo_data.ALICE, "mnemonic leaked", "conv-1")
    assert sql_wallet.account(demo_data.ALICE).frozen
    assert ticket.kind is TicketKind.INCIDENT
    assert ticket.priority is Priority.URGENT
    assert ticket.state is TicketState.OPEN
    assert ticket.number.startswith("S") and len(ticket.number) == 14


def test_freezing_an_unknown_account_changes_nothing(sql_wallet: SqlWalletService) -> None:
    with pytest.raises(AccountNotFound):
        sql_wallet.freeze_account("nobody", "x", "conv-1")
    assert (
        sql_wallet.tickets(
            account_id="nobody", conversation_id="conv-1", kind=TicketKind.INCIDENT, limit=5
        )
        == []
    )


def _complaint(conversation: str, account: str | None) -> TicketDraft:
    return TicketDraft(
        kind=TicketKind.COMPLAINT,
        category="transfer",
        description="三天没到账",
        priority=Priority.NORMAL,
        conversation_id=conversation,
        account_id=account,
    )


def test_tickets_get_unique_numbers_and_belong_to_their_owner(sql_wallet: SqlWalletService) -> None:
    first = sql_wallet.create_ticket(_complaint("conv-a", demo_data.CAROL))
    second = sql_wallet.create_ticket(_complaint("conv-b", None))
    assert first.number != second.number
    assert first.number.startswith("C")
    by_account = sql_wallet.tickets(
        account_id=demo_data.CAROL, conversation_id="other", kind=TicketKind.COMPLAINT, limit=5
    )
    assert [t.number for t in by_account] == [first.number]
    by_conversation = sql_wallet.tickets(
        account_id=None, conversation_id="conv-b", kind=TicketKind.COMPLAINT, limit=5
    )
    assert [t.number for t in by_conversation] == [second.number]
    assert by_conversation[0].description == "三天没到账"
