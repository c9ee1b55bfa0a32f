"""Chooses the wallet adapter from configuration.

WALLET_BACKEND_URL set -> HTTP adapter (WALLET_BACKEND_TOKEN, WALLET_BACKEND_TIMEOUT,
WALLET_BACKEND_RETRIES); unset -> SQL adapter on WALLET_DB_URL (``StoreUrls.wallet``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.settings import ConfigError
from bot.wallet.service import WalletService


@dataclass(frozen=True)
class WalletBackend:
    """The wallet backend's HTTP API: its base URL, bearer token, timeout and retries."""

    url: str
    token: str
    timeout: float = 3.0
    retries: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WalletBackend | None:
        """The backend of WALLET_BACKEND_URL; None without one (the SQL adapter)."""
        url = env.get("WALLET_BACKEND_URL")
        if not url:
            return None
        token = env.get("WALLET_BACKEND_TOKEN")
        if not token:
            raise ConfigError("WALLET_BACKEND_TOKEN must be set when WALLET_BACKEND_URL is")
        try:
            timeout = float(env.get("WALLET_BACKEND_TIMEOUT") or cls.timeout)
            retries = int(env.get("WALLET_BACKEND_RETRIES") or cls.retries)
        except ValueError as error:
            raise ConfigError(
                "WALLET_BACKEND_TIMEOUT must be seconds and WALLET_BACKEND_RETRIES a count"
            ) from error
        return cls(url, token, timeout, retries)


def wallet_service(backend: WalletBackend | None, db_url: str) -> WalletService:
    """The HTTP adapter on ``backend``; without one, the SQL adapter on ``db_url``."""
    if backend is not None:
        from bot.wallet.http import HttpWalletService

        return HttpWalletService(
            backend.url, token=backend.token, timeout=backend.timeout, retries=backend.retries
        )

    from bot.wallet.sql import SqlWalletService

    return SqlWalletService.from_url(db_url)
