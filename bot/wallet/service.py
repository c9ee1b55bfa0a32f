"""The wallet port: what the assistant may ask of the wallet company's backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from bot.wallet.records import (
    Account,
    Approval,
    Direction,
    Login,
    NetworkFee,
    Ticket,
    TicketDraft,
    TicketKind,
    Transaction,
)


class WalletService(ABC):
    """Reads account and transfer state, freezes accounts and files tickets.

    Every method raises a ``bot.wallet.errors.WalletError`` subclass on failure.
    """

    @abstractmethod
    def account(self, account_id: str) -> Account:
        """The account; ``AccountNotFound`` if there is none."""

    @abstractmethod
    def logins(self, account_id: str, since: datetime) -> list[Login]:
        """Sign-ins since ``since``, newest first."""

    @abstractmethod
    def transaction(self, account_id: str, tx_hash: str) -> Transaction:
        """One of the account's transactions; ``TransactionNotFound`` for any other hash."""

    @abstractmethod
    def transactions(self, account_id: str, direction: Direction, limit: int) -> list[Transaction]:
        """The account's latest transactions in one direction, newest first."""

    @abstractmethod
    def dust_transfers(self, account_id: str, limit: int) -> list[Transaction]:
        """Incoming transfers of zero value or dust (``bot.wallet.records.is_dust``), newest
        first: how address poisoning reaches a wallet's history."""

    @abstractmethod
    def approvals(self, account_id: str) -> list[Approval]:
        """The approvals in force on the account's wallets, newest first."""

    @abstractmethod
    def changes(self, since: datetime, limit: int) -> list[Transaction]:
        """Transactions of any account updated at or after ``since``, oldest change first: the
        feed a watcher polls for state changes (a transaction may come again with a later
        ``updated_at``)."""

    @abstractmethod
    def network_fee(self, chain: str) -> NetworkFee:
        """The current typical fee of a transfer on ``chain``; ``NotFound`` for unknown chains."""

    @abstractmethod
    def freeze_account(self, account_id: str, reason: str, conversation_id: str) -> Ticket:
        """Freezes the app account and opens an urgent security incident."""

    @abstractmethod
    def create_ticket(self, draft: TicketDraft) -> Ticket:
        """Files a ticket and returns it with its number."""

    @abstractmethod
    def tickets(
        self, *, account_id: str | None, conversation_id: str, kind: TicketKind, limit: int
    ) -> list[Ticket]:
        """The newest tickets of the account, or of the conversation when there is no account."""
