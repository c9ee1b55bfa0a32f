"""Moves demo-alice's fresh pending TRON transfer on, as the chain would, to try a watch.

python -m bot.wallet.demo_chain confirmed|failed|dropped|pending [--db URL]

The demo's chain never moves by itself, so a 「到账了通知我」 tried in `make run` would wait the
whole day: `make demo-confirm` confirms the transfer in the wallet database (its ``updated_at``
now, as a backend's change would be), and the watcher tells the user within seconds. ``pending``
puts it back as the demo describes it (so does `make seed` on an empty database).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from bot.settings import StoreUrls
from bot.wallet.demo_data import ALICE, TX_PENDING_FRESH
from bot.wallet.records import TxStatus
from bot.wallet.sql import SqlWalletService, transactions


def set_fresh_transfer(wallet_url: str, status: TxStatus) -> None:
    """The wallet database holds the demo's fresh transfer in ``status``, changed now."""
    engine = SqlWalletService.from_url(wallet_url).engine
    try:
        with engine.begin() as connection:
            connection.execute(
                transactions.update()
                .where(
                    transactions.c.account_id == ALICE,
                    transactions.c.tx_hash == TX_PENDING_FRESH,
                )
                .values(
                    status=status.value,
                    confirmations=int(status is TxStatus.CONFIRMED),
                    updated_at=datetime.now(timezone.utc),
                )
            )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("status", choices=[status.value for status in TxStatus])
    parser.add_argument("--db", default=None, help="wallet database URL (default: WALLET_DB_URL)")
    args = parser.parse_args()
    set_fresh_transfer(args.db or StoreUrls.from_env().wallet, TxStatus(args.status))
    print(f"demo-alice's fresh TRON transfer is now {args.status}")


if __name__ == "__main__":
    main()
