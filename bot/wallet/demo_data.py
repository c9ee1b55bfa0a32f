"""The demo accounts: every case the assistant handles, seeded relative to a given time.

demo-bob is locked for 18 more minutes, a transfer of demo-alice's has been pending for 2
minutes, and so on, as of the seeding time; ``bot.wallet.demo_refresh`` keeps them so.

demo-alice is also the victim of address poisoning and holds risky approvals:
- 3 days ago a 0 USDT transfer came in on TRON from ``POISON_TRON``, a lookalike of
  ``EXCHANGE_TRON`` (same first and last 4 characters), and 200 minutes ago she sent 1500 USDT
  to it (``TX_POISONED``, confirmed): the address was copied from her history;
- 2 days ago 0.0000001 ETH came in from ``POISON_ETH``, a lookalike of ``EXCHANGE_ETH`` written
  in mixed case (EVM addresses compare case-insensitively), which she never sent to;
- approvals: USDT on ETH unlimited to an unknown spender, granted 400 days ago; USDC on ETH
  limited to 100 for the Uniswap V3 Router, 10 days ago; USDT on TRON unlimited to
  ``DENYLISTED_TRON_SPENDER``, the drainer on the local denylist (data/denylist.yml), 20 days ago.
demo-carol has a single limited approval to the Uniswap V3 Router; demo-bob has none.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from bot.wallet.records import Direction, FailureReason, TxStatus
from bot.wallet.sql import (
    SqlWalletService,
    accounts,
    approvals,
    logins,
    network_fees,
    transactions,
)

ALICE = "demo-alice"  # 2FA off, a new-device login, transfers in every state
BOB = "demo-bob"  # locked after five wrong passwords, 2FA on
CAROL = "demo-carol"  # everything in order

ALICE_ETH = "0x" + "a1" * 20
ALICE_TRON = "TAL1ceDem0WaLLetAddre55xxxxxxxxxxx"[:34]
EXCHANGE_ETH = "0x" + "e7" * 20
EXCHANGE_TRON = "TExchangeDep0sitAddre55yyyyyyyyyyy"[:34]
ALICE_BTC = "bc1qalicedem0wa11etaddre55zzzzzzzzzzzzzzz"
CAROL_ETH = "0x" + "c3" * 20

# Lookalikes of the exchange addresses: the same first and last 4 characters (after "0x" on
# EVM, in another case), something else in between.
POISON_TRON = EXCHANGE_TRON[:4] + "PoisonedMimicAddre55Tw7kQm" + EXCHANGE_TRON[-4:]
POISON_ETH = "0xE7e7" + "4f1d9a3c7b2e8d6f0a5c3e9b1d7f2a4c" + "e7E7"

USDT_ETH = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
USDC_ETH = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
USDT_TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
UNISWAP_V3_ROUTER = "0xE592427A0AEce92De3Edee1F18E0157C05861564"
UNKNOWN_ETH_SPENDER = "0x" + "5ca1ab1e" * 5
DENYLISTED_TRON_SPENDER = "TDrainerSpenderDemoAddre55Xw9kQmRt"


def demo_hash(name: str, prefix: str = "0x") -> str:
    """A stable, realistic-looking transaction hash for a demo case."""
    return prefix + hashlib.sha256(name.encode()).hexdigest()


TX_PENDING_LOW_FEE = demo_hash("pending-low-fee")
TX_PENDING_LONG = demo_hash("pending-long", prefix="")
TX_PENDING_FRESH = demo_hash("pending-fresh", prefix="")
TX_FAILED_OUT_OF_GAS = demo_hash("failed-out-of-gas")
TX_FAILED_WRONG_NETWORK = demo_hash("failed-wrong-network", prefix="")
TX_FAILED_REVERTED = demo_hash("failed-reverted")
TX_CONFIRMED = demo_hash("confirmed", prefix="")
TX_DROPPED = demo_hash("dropped")
TX_INCOMING = demo_hash("incoming", prefix="")
TX_POISON_DUST = demo_hash("poison-dust", prefix="")
TX_POISONED = demo_hash("poisoned", prefix="")
TX_POISON_DUST_ETH = demo_hash("poison-dust-eth")


def seed(service: SqlWalletService, now: datetime | None = None) -> None:
    """Replaces the demo accounts' data (accounts, logins, transfers, approvals, the module's
    cases) with a fresh copy relative to ``now``."""
    now = now or datetime.now(timezone.utc)
    demo_ids = [ALICE, BOB, CAROL]
    with service.engine.begin() as connection:
        for table in (transactions, logins, approvals):
            connection.execute(table.delete().where(table.c.account_id.in_(demo_ids)))
        connection.execute(accounts.delete().where(accounts.c.account_id.in_(demo_ids)))
        connection.execute(network_fees.delete())
        connection.execute(accounts.insert(), _accounts(now))
        connection.execute(logins.insert(), _logins(now))
        connection.execute(transactions.insert(), _transactions(now))
        connection.execute(approvals.insert(), _approvals(now))
        connection.execute(network_fees.insert(), _fees(now))


# The demo's own clock: its "fresh" pending transfer was sent this long before the seeding time.
FRESH_MINUTES_AGO = 2


def _accounts(now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "account_id": ALICE,
            "phone": "13812345678",
            "email": "alice@example.com",
            "two_factor_enabled": False,
            "locked_until": None,
            "frozen": False,
        },
        {
            "account_id": BOB,
            "phone": None,
            "email": "bob.wang@example.com",
            "two_factor_enabled": True,
            "locked_until": now + timedelta(minutes=18),
            "frozen": False,
        },
        {
            "account_id": CAROL,
            "phone": "13900001111",
            "email": None,
            "two_factor_enabled": True,
            "locked_until": None,
            "frozen": False,
        },
    ]


def _logins(now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "account_id": ALICE,
            "device": "iPhone 15",
            "location": "上海",
            "logged_in_at": now - timedelta(days=3),
            "new_device": False,
        },
        {
            "account_id": ALICE,
            "device": "Windows PC",
            "location": "Lagos, NG",
            "logged_in_at": now - timedelta(hours=20),
            "new_device": True,
        },
        {
            "account_id": CAROL,
            "device": "Pixel 8",
            "location": "深圳",
            "logged_in_at": now - timedelta(days=1),
            "new_device": False,
        },
    ]


def _tx(name: str, tx_hash: str, now: datetime, minutes_ago: int, **values: Any) -> dict[str, Any]:
    created = now - timedelta(minutes=minutes_ago)
    base = {
        "tx_hash": tx_hash,
        "account_id": ALICE,
        "direction": Direction.OUT.value,
        "from_address": ALICE_ETH,
        "to_address": EXCHANGE_ETH,
        "confirmations": 0,
        "failure_reason": None,
        "created_at": created,
        "updated_at": created,
    }
    return base | values


def _transactions(now: datetime) -> list[dict[str, Any]]:
    pending, confirmed, failed = (
        TxStatus.PENDING.value,
        TxStatus.CONFIRMED.value,
        TxStatus.FAILED.value,
    )
    tron = {"chain": "TRON", "from_address": ALICE_TRON, "to_address": EXCHANGE_TRON}
    return [
        _tx(
            "pending-low-fee",
            TX_PENDING_LOW_FEE,
            now,
            25,
            chain="ETH",
            currency="ETH",
            amount=Decimal("0.5"),
            fee=Decimal("0.00021"),
            fee_currency="ETH",
            status=pending,
        ),
        _tx(
            "pending-long",
            TX_PENDING_LONG,
            now,
            190,
            chain="BTC",
            currency="BTC",
            amount=Decimal("0.012"),
            fee=Decimal("0.00003"),
            fee_currency="BTC",
            status=pending,
            from_address=ALICE_BTC,
            to_address="bc1qexchangedep0sitaddre55wwwwwwwwwwwwwww",
        ),
        _tx(
            "pending-fresh",
            TX_PENDING_FRESH,
            now,
            FRESH_MINUTES_AGO,
            currency="USDT",
            amount=Decimal("200"),
            fee=Decimal("6.5"),
            fee_currency="TRX",
            status=pending,
            **tron,
        ),
        _tx(
            "failed-out-of-gas",
            TX_FAILED_OUT_OF_GAS,
            now,
            300,
            chain="ETH",
            currency="USDT",
            amount=Decimal("1000"),
            fee=Decimal("0.0012"),
            fee_currency="ETH",
            status=failed,
            failure_reason=FailureReason.OUT_OF_GAS.value,
        ),
        _tx(
            "failed-wrong-network",
            TX_FAILED_WRONG_NETWORK,
            now,
            600,
            currency="USDT",
            amount=Decimal("300"),
            fee=Decimal("0"),
            fee_currency="TRX",
            status=failed,
            failure_reason=FailureReason.WRONG_NETWORK.value,
            **tron,
        ),
        _tx(
            "failed-reverted",
            TX_FAILED_REVERTED,
            now,
            1440,
            chain="ETH",
            currency="USDC",
            amount=Decimal("50"),
            fee=Decimal("0.0009"),
            fee_currency="ETH",
            status=failed,
            failure_reason=FailureReason.REVERTED.value,
        ),
        _tx(
            "confirmed",
            TX_CONFIRMED,
            now,
            40,
            currency="USDT",
            amount=Decimal("500"),
            fee=Decimal("13.4"),
            fee_currency="TRX",
            status=confirmed,
            confirmations=25,
            **tron,
        ),
        _tx(
            "dropped",
            TX_DROPPED,
            now,
            2880,
            chain="ETH",
            currency="ETH",
            amount=Decimal("0.2"),
            fee=Decimal("0"),
            fee_currency="ETH",
            status=TxStatus.DROPPED.value,
        ),
        _tx(
            "incoming",
            TX_INCOMING,
            now,
            4320,
            currency="USDT",
            amount=Decimal("800"),
            fee=Decimal("0"),
            fee_currency="TRX",
            status=confirmed,
            confirmations=12000,
            direction=Direction.IN.value,
            from_address=EXCHANGE_TRON,
            to_address=ALICE_TRON,
            chain="TRON",
        ),
        _tx(
            "poison-dust",
            TX_POISON_DUST,
            now,
            4300,
            currency="USDT",
            amount=Decimal("0"),
            fee=Decimal("0"),
            fee_currency="TRX",
            status=confirmed,
            confirmations=86000,
            direction=Direction.IN.value,
            from_address=POISON_TRON,
            to_address=ALICE_TRON,
            chain="TRON",
        ),
        # Older than the 190-minute pending one: the newest outgoing transfers stay as they were.
        _tx(
            "poisoned",
            TX_POISONED,
            now,
            200,
            currency="USDT",
            amount=Decimal("1500"),
            fee=Decimal("13.4"),
            fee_currency="TRX",
            status=confirmed,
            confirmations=4000,
            **(tron | {"to_address": POISON_TRON}),
        ),
        _tx(
            "poison-dust-eth",
            TX_POISON_DUST_ETH,
            now,
            2870,
            chain="ETH",
            currency="ETH",
            amount=Decimal("0.0000001"),
            fee=Decimal("0"),
            fee_currency="ETH",
            status=confirmed,
            confirmations=14000,
            direction=Direction.IN.value,
            from_address=POISON_ETH,
            to_address=ALICE_ETH,
        ),
    ]


def _approvals(now: datetime) -> list[dict[str, Any]]:
    alice_eth = {"account_id": ALICE, "chain": "ETH", "owner_address": ALICE_ETH}
    usdt_eth = {"token": "USDT", "token_address": USDT_ETH}
    uniswap = {"spender": UNISWAP_V3_ROUTER, "spender_label": "Uniswap V3 Router"}
    return [
        {
            **alice_eth,
            **usdt_eth,
            "spender": UNKNOWN_ETH_SPENDER,
            "spender_label": None,
            "allowance": None,
            "granted_at": now - timedelta(days=400),
        },
        {
            **alice_eth,
            "token": "USDC",
            "token_address": USDC_ETH,
            **uniswap,
            "allowance": Decimal("100"),
            "granted_at": now - timedelta(days=10),
        },
        {
            "account_id": ALICE,
            "chain": "TRON",
            "owner_address": ALICE_TRON,
            "token": "USDT",
            "token_address": USDT_TRON,
            "spender": DENYLISTED_TRON_SPENDER,
            "spender_label": None,
            "allowance": None,
            "granted_at": now - timedelta(days=20),
        },
        {
            "account_id": CAROL,
            "chain": "ETH",
            "owner_address": CAROL_ETH,
            **usdt_eth,
            **uniswap,
            "allowance": Decimal("50"),
            "granted_at": now - timedelta(days=5),
        },
    ]


def _fees(now: datetime) -> list[dict[str, Any]]:
    quotes = [
        ("ETH", "ETH", "0.0008"),
        ("BTC", "BTC", "0.00002"),
        ("TRON", "TRX", "6.5"),
        ("BSC", "BNB", "0.0002"),
        ("POLYGON", "MATIC", "0.01"),
        ("LTC", "LTC", "0.0001"),
        ("SOLANA", "SOL", "0.000005"),
    ]
    return [
        {"chain": chain, "fee_currency": currency, "typical_fee": Decimal(fee), "updated_at": now}
        for chain, currency, fee in quotes
    ]
