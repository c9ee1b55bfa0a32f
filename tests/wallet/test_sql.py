from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

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
from bot.wallet.sql import SqlWalletService, accounts, transactions
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
    assert len(sql_wallet.transactions(demo_data.ALICE, Direction.OUT, 50)) == 9


def test_recent_transactions_by_direction_newest_first(sql_wallet: SqlWalletService) -> None:
    recent = sql_wallet.transactions(demo_data.ALICE, Direction.OUT, 3)
    assert [tx.tx_hash for tx in recent] == [
        demo_data.TX_PENDING_FRESH,
        demo_data.TX_PENDING_LOW_FEE,
        demo_data.TX_CONFIRMED,
    ]
    incoming = sql_wallet.transactions(demo_data.ALICE, Direction.IN, 10)
    assert [tx.tx_hash for tx in incoming] == [
        demo_data.TX_POISON_DUST_ETH,
        demo_data.TX_POISON_DUST,
        demo_data.TX_INCOMING,
    ]


def _add_transfers(
    service: SqlWalletService, account_id: str, *transfers: dict[str, Any]
) -> list[str]:
    """Stores ``transfers`` (amount, currency, optional direction and updated_at) of a new
    account; returns their hashes in order."""
    with service.engine.begin() as connection:
        connection.execute(
            accounts.insert().values(
                account_id=account_id,
                phone=None,
                email=None,
                two_factor_enabled=True,
                locked_until=None,
                frozen=False,
            )
        )
        hashes = []
        for number, values in enumerate(transfers):
            tx_hash = f"{account_id}-{number:02d}"
            created = NOW - timedelta(minutes=number)  # the first is the newest
            row = {
                "tx_hash": tx_hash,
                "account_id": account_id,
                "chain": "ETH",
                "direction": Direction.IN.value,
                "from_address": "0x" + "f0" * 20,
                "to_address": "0x" + "0f" * 20,
                "fee": Decimal("0"),
                "fee_currency": "ETH",
                "status": TxStatus.CONFIRMED.value,
                "confirmations": 12,
                "failure_reason": None,
                "created_at": created,
                "updated_at": created,
            }
            connection.execute(transactions.insert().values(row | values))
            hashes.append(tx_hash)
    return hashes


def test_dust_transfers_are_alices_poisoning_transfers_newest_first(
    sql_wallet: SqlWalletService,
) -> None:
    dust = sql_wallet.dust_transfers(demo_data.ALICE, 10)
    assert [tx.tx_hash for tx in dust] == [demo_data.TX_POISON_DUST_ETH, demo_data.TX_POISON_DUST]
    assert [(tx.from_address, tx.amount) for tx in dust] == [
        (demo_data.POISON_ETH, Decimal("0.0000001")),
        (demo_data.POISON_TRON, Decimal("0")),
    ]
    assert [tx.tx_hash for tx in sql_wallet.dust_transfers(demo_data.ALICE, 1)] == [
        demo_data.TX_POISON_DUST_ETH
    ]
    assert sql_wallet.dust_transfers(demo_data.CAROL, 10) == []
    assert sql_wallet.dust_transfers("nobody", 10) == []


def test_dust_is_judged_per_currency_and_only_incoming(sql_wallet: SqlWalletService) -> None:
    hashes = _add_transfers(
        sql_wallet,
        "dusty",
        {"amount": Decimal("1"), "currency": "USDT"},  # the USDT limit itself
        {"amount": Decimal("1.01"), "currency": "USDT"},
        {"amount": Decimal("0.0005"), "currency": "ETH"},
        {"amount": Decimal("0.001"), "currency": "ETH"},
        {"amount": Decimal("5"), "currency": "trx"},  # currencies compare in any case
        {"amount": Decimal("0"), "currency": "DOGE"},  # no limit listed: zero only
        {"amount": Decimal("0.0001"), "currency": "DOGE"},
        {"amount": Decimal("0"), "currency": "USDT", "direction": Direction.OUT.value},
    )
    found = sql_wallet.dust_transfers("dusty", 10)
    assert [tx.tx_hash for tx in found] == [hashes[0], hashes[2], hashes[4], hashes[5]]
    assert [tx.tx_hash for tx in sql_wallet.dust_transfers("dusty", 2)] == [hashes[0], hashes[2]]


def test_approvals_newest_first_with_unlimited_ones_marked(sql_wallet: SqlWalletService) -> None:
    alice = sql_wallet.approvals(demo_data.ALICE)
    assert [(a.chain, a.token, a.spender) for a in alice] == [
        ("ETH", "USDC", demo_data.UNISWAP_V3_ROUTER),
        ("TRON", "USDT", demo_data.DENYLISTED_TRON_SPENDER),
        ("ETH", "USDT", demo_data.UNKNOWN_ETH_SPENDER),
    ]
    assert [a.unlimited for a in alice] == [False, True, True]
    assert [a.allowance for a in alice] == [Decimal("100"), None, None]
    assert [a.spender_label for a in alice] == ["Uniswap V3 Router", None, None]
    assert [NOW - a.granted_at for a in alice] == [
        timedelta(days=10),
        timedelta(days=20),
        timedelta(days=400),
    ]
    assert {a.owner_address for a in alice} == {demo_data.ALICE_ETH, demo_data.ALICE_TRON}
    (carol,) = sql_wallet.approvals(demo_data.CAROL)
    assert (carol.unlimited, carol.spender_label) == (False, "Uniswap V3 Router")
    assert sql_wallet.approvals(demo_data.BOB) == []


def test_changes_come_oldest_first_from_since_on(sql_wallet: SqlWalletService) -> None:
    since = NOW - timedelta(minutes=200)  # exactly when the poisoned transfer was sent
    assert [tx.tx_hash for tx in sql_wallet.changes(since, 50)] == [
        demo_data.TX_POISONED,
        demo_data.TX_PENDING_LONG,
        demo_data.TX_CONFIRMED,
        demo_data.TX_PENDING_LOW_FEE,
        demo_data.TX_PENDING_FRESH,
    ]
    assert [tx.tx_hash for tx in sql_wallet.changes(since, 2)] == [
        demo_data.TX_POISONED,
        demo_data.TX_PENDING_LONG,
    ]
    assert sql_wallet.changes(NOW + timedelta(seconds=1), 50) == []


def test_changes_span_accounts_and_break_ties_by_hash(sql_wallet: SqlWalletService) -> None:
    later = NOW + timedelta(minutes=5)
    (other_hash,) = _add_transfers(
        sql_wallet, "a-user", {"amount": Decimal("2"), "currency": "ETH", "updated_at": later}
    )
    with sql_wallet.engine.begin() as connection:
        # demo-alice's fresh transfer confirms at the same moment
        connection.execute(
            transactions.update()
            .where(transactions.c.tx_hash == demo_data.TX_PENDING_FRESH)
            .values(status=TxStatus.CONFIRMED.value, confirmations=20, updated_at=later)
        )
    changed = sql_wallet.changes(NOW, 50)
    assert other_hash < demo_data.TX_PENDING_FRESH
    assert [(tx.account_id, tx.tx_hash) for tx in changed] == [
        ("a-user", other_hash),
        (demo_data.ALICE, demo_data.TX_PENDING_FRESH),
    ]
    assert (changed[1].status, changed[1].updated_at) == (TxStatus.CONFIRMED, later)
    beijing = later.astimezone(timezone(timedelta(hours=8)))
    assert sql_wallet.changes(beijing, 50) == changed  # any offset means the same moment


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
