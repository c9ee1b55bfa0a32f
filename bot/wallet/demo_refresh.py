"""Keeps the demo accounts as of now while they are shown.

python -m bot.wallet.demo_refresh [--db URL] [--if-empty] [--keep-fresh SECONDS]

Their state is relative to the time of seeding (``bot.wallet.demo_data``), so it would age.
`make run` seeds an empty database and otherwise moves the demo accounts' times forward to now
(``refresh``), and keeps doing so while the servers run (``--keep-fresh``). Refreshing shifts only
the demo accounts' timestamps: what a user did to them (a freeze) and every other record (tickets
users filed, other accounts) stay as they are, and a database without the demo accounts is never
touched.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from bot.settings import StoreUrls
from bot.wallet.demo_data import ALICE, BOB, CAROL, FRESH_MINUTES_AGO, TX_PENDING_FRESH, seed
from bot.wallet.sql import (
    SqlWalletService,
    accounts,
    approvals,
    logins,
    network_fees,
    transactions,
)

logger = logging.getLogger(__name__)

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
        _move(connection, approvals, ["granted_at"], approvals.c.account_id.in_(demo_ids), shift)
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
    service = SqlWalletService.from_url(args.db or StoreUrls.from_env().wallet)
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
