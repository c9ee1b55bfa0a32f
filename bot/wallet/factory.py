"""Chooses the wallet adapter from configuration, once, on first use.

WALLET_BACKEND_URL set -> HTTP adapter (WALLET_BACKEND_TOKEN, WALLET_BACKEND_TIMEOUT,
WALLET_BACKEND_RETRIES); unset -> SQL adapter on WALLET_DB_URL (default: var/wallet.db, SQLite).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from bot.database import sqlite_in_var
from bot.support_hours import ConfigError
from bot.wallet.service import WalletService


def default_db_url() -> str:
    """The embedded wallet store, var/wallet.db."""
    return sqlite_in_var("wallet.db")


def wallet_service_from_env(env: Mapping[str, str]) -> WalletService:
    """The adapter the settings in ``env`` ask for."""
    url = env.get("WALLET_BACKEND_URL")
    if url:
        from bot.wallet.http import HttpWalletService

        token = env.get("WALLET_BACKEND_TOKEN")
        if not token:
            raise ConfigError("WALLET_BACKEND_TOKEN must be set when WALLET_BACKEND_URL is")
        try:
            timeout = float(env.get("WALLET_BACKEND_TIMEOUT") or 3.0)
            retries = int(env.get("WALLET_BACKEND_RETRIES") or 2)
        except ValueError as error:
            raise ConfigError(
                "WALLET_BACKEND_TIMEOUT must be seconds and WALLET_BACKEND_RETRIES a count"
            ) from error
        return HttpWalletService(url, token=token, timeout=timeout, retries=retries)

    from bot.wallet.sql import SqlWalletService

    return SqlWalletService.from_url(env.get("WALLET_DB_URL") or default_db_url())


@lru_cache(maxsize=1)
def wallet_service() -> WalletService:
    """The process-wide adapter, built from the environment on first use."""
    return wallet_service_from_env(os.environ)
