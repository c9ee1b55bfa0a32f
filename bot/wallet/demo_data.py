"""Demo accounts covering every case the assistant handles, kept as of now while they are shown.

python -m bot.wallet.demo_data [--db URL] [--if-empty] [--keep-fresh SECONDS]

Their state is relative to the time of seeding (demo-bob locked for 18 more minutes, a transfer
of demo-alice's pending for 2 minutes), so it would age. `make run` seeds an empty database and
otherwise moves the demo accounts' times forward to now (``refresh``), and keeps doing so while
the servers run (``--keep-fresh``). Refreshing shifts only the demo accounts' timestamps: what a
user did to them (a freeze) and every other record (tickets users filed, other accounts) stay as
they are, and a database without the demo accounts is never touched.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bot.wallet.factory import default_db_url
from bot.wallet.records import Direction, FailureReason, TxStatus
from bot.wallet.sql import (
    SqlWalletService,
    accounts,
    logins,
    network_fees,
    transactions,
)

logger = logging.getLogger(__name__)

ALICE = "demo-alice"  # 2FA off, a new-device login, transfers in every state
BOB = "demo-bob"  # locked after five wrong passwords, 2FA on
CAROL = "demo-carol"  # everything in order

ALICE_ETH = "0x" + "a1" * 20
ALICE_TRON = "TAL1ceDem0WaLLetAddre55xxxxxxxxxxx"[:34]
EXCHANGE_ETH = "0x" + "e7" * 20
EXCHANGE_TRON = "TExchangeDep0sitAddre55yyyyyyyyyyy"[:34]
ALICE_BTC = "bc1qalicedem0wa11etaddre55zzzzzzzzzzzzzzz"


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


def seed(service: SqlWalletService, now: datetime | None = None) -> None:
    """Replaces the demo accounts' data with a fresh copy relative to ``now``."""
    now = now or datetime.now(timezone.utc)
    demo_ids = [ALICE, BOB, CAROL]
    with service.engine.begin() as connection:
        for table in (transactions, logins):
            connection.execute(table.delete().where(table.c.account_id.in_(demo_ids)))
        connection.execute(accounts.delete().where(accounts.c.account_id.in_(demo_ids)))
        connection.execute(network_fees.delete())
        connection.execute(accounts.insert(), _accounts(now))
        connection.execute(logins.insert(), _logins(now))
        connection.execute(transactions.insert(), _transactions(now))
        connection.execute(network_fees.insert(), _fees(now))


# The demo's own clock: its "fresh" pending transfer was sent this long before the seeding time.
FRESH_MINUTES_AGO = 2
# Refreshing more often than this changes nothing a user would notice.
MIN_SHIFT = timedelta(seconds=30)


def seeded_at(service: SqlWalletService) -> datetime | None:
    """The time the demo accounts' state is relative to; None without the demo accounts."""
    query = sa.select(transactions.c.created_at).where(
        transactions.c.account_id == ALICE, transactions.c.tx_hash == TX_PENDING_FRESH
    )
    with service.engine.connect() as connection:
        created = connection.execute(query).scalar()
    return created + timedelta(minutes=FRESH_MINUTES_AGO) if created is not None else None


def refresh(service: SqlWalletService, now: datetime | None = None) -> bool:
    """Moves the demo accounts' timestamps forward so that their state is as of ``now``.

    False (nothing changed) when the database holds no demo accounts or they are current.
    """
    now = now or datetime.now(timezone.utc)
    anchor = seeded_at(service)
    if anchor is None or now - anchor < MIN_SHIFT:
        return False
    shift = now - anchor
    demo_ids = [ALICE, BOB, CAROL]
    with service.engine.begin() as connection:
        _move(connection, accounts, ["locked_until"], accounts.c.account_id.in_(demo_ids), shift)
        _move(connection, logins, ["logged_in_at"], logins.c.account_id.in_(demo_ids), shift)
        _move(
            connection,
            transactions,
            ["created_at", "updated_at"],
            transactions.c.account_id.in_(demo_ids),
            shift,
        )
        connection.execute(network_fees.update().values(updated_at=now))
    logger.info("demo accounts moved forward by %s", shift)
    return True


def _move(
    connection: sa.engine.Connection,
    table: sa.Table,
    columns: list[str],
    where: sa.sql.ColumnElement[bool],
    shift: timedelta,
) -> None:
    """Adds ``shift`` to the set ``columns`` of the rows ``where`` selects, a row at a time (date
    arithmetic in SQL differs between SQLite and PostgreSQL)."""
    keys = list(table.primary_key.columns)
    selected = sa.select(*keys, *(table.c[name] for name in columns)).where(where)
    for row in connection.execute(selected).mappings().all():
        moved = {name: row[name] + shift for name in columns if row[name] is not None}
        if moved:
            connection.execute(
                table.update().where(*(key == row[key.name] for key in keys)).values(moved)
            )


def has_accounts(service: SqlWalletService) -> bool:
    with service.engine.connect() as connection:
        return bool(connection.execute(sa.select(sa.func.count()).select_from(accounts)).scalar())


def prepare(service: SqlWalletService, now: datetime | None = None) -> str:
    """What `make run` does: seeds an empty database, refreshes the demo accounts in one that has
    them, and leaves any other database alone. Says which it did."""
    if is_seeded(service):
        refresh(service, now)
        return "refreshed"
    if has_accounts(service):
        return "untouched"
    seed(service, now)
    return "seeded"


def is_seeded(service: SqlWalletService) -> bool:
    with service.engine.connect() as connection:
        query = sa.select(sa.func.count()).where(accounts.c.account_id == ALICE)
        return bool(connection.execute(query).scalar())


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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--db", default=None, help="SQLAlchemy URL (default: WALLET_DB_URL or var/wallet.db)"
    )
    parser.add_argument(
        "--if-empty",
        action="store_true",
        help="seed only an empty database; refresh the demo accounts where they are",
    )
    parser.add_argument(
        "--keep-fresh",
        type=float,
        metavar="SECONDS",
        help="keep running, refreshing the demo accounts every SECONDS",
    )
    args = parser.parse_args(argv)
    import os

    service = SqlWalletService.from_url(
        args.db or os.environ.get("WALLET_DB_URL") or default_db_url()
    )
    if args.keep_fresh:
        logging.basicConfig(level=logging.WARNING)
        while True:
            time.sleep(args.keep_fresh)
            refresh(service)
    if args.if_empty:
        outcome = prepare(service)
        if outcome == "untouched":
            print("the wallet database holds other accounts: demo data not added")
        else:
            print(f"demo accounts {ALICE}, {BOB}, {CAROL} {outcome}")
        return
    seed(service)
    print(f"demo accounts {ALICE}, {BOB}, {CAROL} seeded")


if __name__ == "__main__":
    main()
