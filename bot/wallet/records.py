"""Typed records that cross the wallet port: accounts, logins, transactions, approvals, fees and
tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum


class TxStatus(str, Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    DROPPED = "dropped"


class Direction(str, Enum):
    IN = "in"
    OUT = "out"


class FailureReason(str, Enum):
    OUT_OF_GAS = "out_of_gas"
    FEE_TOO_LOW = "fee_too_low"
    WRONG_ADDRESS = "wrong_address"
    WRONG_NETWORK = "wrong_network"
    REVERTED = "reverted"


class TicketKind(str, Enum):
    COMPLAINT = "complaint"
    INCIDENT = "incident"


class TicketState(str, Enum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class Priority(str, Enum):
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


@dataclass(frozen=True)
class Account:
    """An app account (not a wallet: keys never leave the user's phone)."""

    account_id: str
    phone: str | None
    email: str | None
    two_factor_enabled: bool
    locked_until: datetime | None
    frozen: bool

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class Login:
    """One sign-in to the app account."""

    account_id: str
    device: str
    location: str
    logged_in_at: datetime
    new_device: bool


@dataclass(frozen=True)
class Transaction:
    """An on-chain transfer from or to one of the account's wallets."""

    tx_hash: str
    account_id: str
    chain: str
    currency: str
    amount: Decimal
    direction: Direction
    from_address: str
    to_address: str
    fee: Decimal
    fee_currency: str
    status: TxStatus
    confirmations: int
    failure_reason: FailureReason | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Approval:
    """A token approval (授权) still in force: ``spender`` may move the owner's ``token``.

    ``allowance`` is None when the approval is unlimited; ``spender_label`` names a known
    contract ("Uniswap V3 Router") and is None for an unknown one.
    """

    account_id: str
    chain: str
    owner_address: str
    token: str
    token_address: str
    spender: str
    spender_label: str | None
    allowance: Decimal | None
    granted_at: datetime

    @property
    def unlimited(self) -> bool:
        return self.allowance is None


@dataclass(frozen=True)
class NetworkFee:
    """The fee a standard transfer needs on a chain right now."""

    chain: str
    fee_currency: str
    typical_fee: Decimal
    updated_at: datetime


@dataclass(frozen=True)
class TicketDraft:
    """What a new ticket says; the backend assigns number, state and times."""

    kind: TicketKind
    category: str
    description: str
    priority: Priority
    conversation_id: str
    account_id: str | None


@dataclass(frozen=True)
class Ticket:
    """A complaint or security incident in the support ticket system."""

    number: str
    kind: TicketKind
    category: str
    description: str
    priority: Priority
    state: TicketState
    conversation_id: str
    account_id: str | None
    created_at: datetime
    updated_at: datetime


# The largest amount of each currency that still counts as dust (about 1 USD): address
# poisoners send such amounts, or zero, so that their lookalike address enters the history.
DUST_LIMITS = {
    "USDT": Decimal("1"),
    "USDC": Decimal("1"),
    "ETH": Decimal("0.0005"),
    "BTC": Decimal("0.00002"),
    "TRX": Decimal("5"),
    "BNB": Decimal("0.002"),
    "MATIC": Decimal("2"),
    "SOL": Decimal("0.01"),
    "LTC": Decimal("0.01"),
}


def is_dust(currency: str, amount: Decimal) -> bool:
    """Zero, or at most the currency's dust limit (zero only, for a currency not listed)."""
    return amount <= DUST_LIMITS.get(currency.upper(), Decimal(0))
