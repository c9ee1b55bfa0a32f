"""The demo transfer the watch tests follow (demo-alice's fresh pending TRON transfer), changed in
the wallet backend as the chain would change it: the SQL store behind the port, so the
watcher's change feed sees it as it sees any backend update."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.wallet.demo_data import ALICE, TX_PENDING_FRESH
from bot.wallet.records import TxStatus
from bot.wallet.sql import SqlWalletService, transactions


def set_demo_transfer(wallet_url: str, status: TxStatus) -> None:
    """The backend sees the demo transfer in ``status``, now; back in PENDING it is the transfer
    other tests of the stack know."""
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
