"""The wallet port's errors: one small tree that actions map to a polite reply."""

from __future__ import annotations


class WalletError(Exception):
    """Any failure of the wallet backend."""


class WalletUnavailable(WalletError):
    """The backend is down, slow, or answered something unusable."""


class NotFound(WalletError):
    """The requested record does not exist (for this account)."""


class AccountNotFound(NotFound):
    """No account with that id."""


class TransactionNotFound(NotFound):
    """No transaction with that hash belongs to the account."""
