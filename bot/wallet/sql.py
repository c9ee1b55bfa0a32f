"""SQL adapter of the wallet port (SQLAlchemy Core): SQLite by default, any SQLAlchemy URL."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.database import UtcDateTime, open_database
from bot.wallet.errors import AccountNotFound, NotFound, TransactionNotFound, WalletUnavailable
from bot.wallet.records import (
    Account,
    Approval,
    Direction,
    FailureReason,
    Login,
    NetworkFee,
    Priority,
    Ticket,
    TicketDraft,
    TicketKind,
    TicketState,
    Transaction,
    TxStatus,
    is_dust,
)
from bot.wallet.service import WalletService

logger = logging.getLogger(__name__)

TICKET_PREFIX = {TicketKind.COMPLAINT: "C", TicketKind.INCIDENT: "S"}
# The newest incoming transfers searched for dust (limits differ per currency, so in Python).
DUST_SCAN = 2000


class DecimalText(sa.types.TypeDecorator):
    """Exact decimals on every database (SQLite has no decimal type)."""

    impl = sa.String(78)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        return None if value is None else format(value, "f")

    def process_result_value(self, value: str | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


metadata = sa.MetaData()

accounts = sa.Table(
    "wallet_accounts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("phone", sa.String(32)),
    sa.Column("email", sa.String(254)),
    sa.Column("two_factor_enabled", sa.Boolean, nullable=False),
    sa.Column("locked_until", UtcDateTime),
    sa.Column("frozen", sa.Boolean, nullable=False, default=False),
)

logins = sa.Table(
    "wallet_logins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey(accounts.c.account_id), nullable=False),
    sa.Column("device", sa.String(128), nullable=False),
    sa.Column("location", sa.String(128), nullable=False),
    sa.Column("logged_in_at", UtcDateTime, nullable=False),
    sa.Column("new_device", sa.Boolean, nullable=False),
    sa.Index("ix_wallet_logins_account_time", "account_id", "logged_in_at"),
)

transactions = sa.Table(
    "wallet_transactions",
    metadata,
    sa.Column("tx_hash", sa.String(100), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey(accounts.c.account_id), primary_key=True),
    sa.Column("chain", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(16), nullable=False),
    sa.Column("amount", DecimalText, nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("from_address", sa.String(100), nullable=False),
    sa.Column("to_address", sa.String(100), nullable=False),
    sa.Column("fee", DecimalText, nullable=False),
    sa.Column("fee_currency", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("confirmations", sa.Integer, nullable=False),
    sa.Column("failure_reason", sa.String(32)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_wallet_transactions_account_time", "account_id", "direction", "created_at"),
    sa.Index("ix_wallet_transactions_updated", "updated_at"),
)

approvals = sa.Table(
    "wallet_approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey(accounts.c.account_id), nullable=False),
    sa.Column("chain", sa.String(16), nullable=False),
    sa.Column("owner_address", sa.String(100), nullable=False),
    sa.Column("token", sa.String(16), nullable=False),
    sa.Column("token_address", sa.String(100), nullable=False),
    sa.Column("spender", sa.String(100), nullable=False),
    sa.Column("spender_label", sa.String(128)),
    sa.Column("allowance", DecimalText),  # NULL: unlimited
    sa.Column("granted_at", UtcDateTime, nullable=False),
    sa.Index("ix_wallet_approvals_account", "account_id", "granted_at"),
)

network_fees = sa.Table(
    "wallet_network_fees",
    metadata,
    sa.Column("chain", sa.String(16), primary_key=True),
    sa.Column("fee_currency", sa.String(16), nullable=False),
    sa.Column("typical_fee", DecimalText, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

tickets = sa.Table(
    "wallet_tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(32), unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("account_id", sa.String(64)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_wallet_tickets_account", "account_id", "kind", "created_at"),
    sa.Index("ix_wallet_tickets_conversation", "conversation_id", "kind", "created_at"),
)


class SqlWalletService(WalletService):
    """The wallet port over a SQL database; hashes and ids reach SQL only as bound parameters."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> SqlWalletService:
        """An adapter on ``url``, creating the tables if they are missing."""
        return cls(open_database(url, metadata))

    @property
    def engine(self) -> Engine:
        return self._engine

    def account(self, account_id: str) -> Account:
        row = self._one(sa.select(accounts).where(accounts.c.account_id == account_id))
        if row is None:
            raise AccountNotFound(account_id)
        return Account(**row)

    def logins(self, account_id: str, since: datetime) -> list[Login]:
        query = (
            sa.select(
                logins.c.account_id,
                logins.c.device,
                logins.c.location,
                logins.c.logged_in_at,
                logins.c.new_device,
            )
            .where(logins.c.account_id == account_id, logins.c.logged_in_at >= since)
            .order_by(logins.c.logged_in_at.desc())
        )
        return [Login(**row) for row in self._all(query)]

    def transaction(self, account_id: str, tx_hash: str) -> Transaction:
        query = sa.select(transactions).where(
            transactions.c.account_id == account_id,
            sa.func.lower(transactions.c.tx_hash) == tx_hash.lower(),
        )
        row = self._one(query)
        if row is None:
            raise TransactionNotFound(tx_hash)
        return _transaction(row)

    def transactions(self, account_id: str, direction: Direction, limit: int) -> list[Transaction]:
        query = (
            sa.select(transactions)
            .where(
                transactions.c.account_id == account_id, transactions.c.direction == direction.value
            )
            .order_by(transactions.c.created_at.desc())
            .limit(limit)
        )
        return [_transaction(row) for row in self._all(query)]

    def dust_transfers(self, account_id: str, limit: int) -> list[Transaction]:
        # Dust limits differ per currency: small amounts are read and filtered here, newest first,
        # until ``limit`` are found (incoming transfers of a wallet are few compared to a scan).
        query = (
            sa.select(transactions)
            .where(
                transactions.c.account_id == account_id,
                transactions.c.direction == Direction.IN.value,
            )
            .order_by(transactions.c.created_at.desc())
            .limit(DUST_SCAN)
        )
        found = [
            tx for tx in map(_transaction, self._all(query)) if is_dust(tx.currency, tx.amount)
        ]
        return found[:limit]

    def approvals(self, account_id: str) -> list[Approval]:
        query = (
            sa.select(approvals)
            .where(approvals.c.account_id == account_id)
            .order_by(approvals.c.granted_at.desc(), approvals.c.id.desc())
        )
        return [
            Approval(**{key: value for key, value in row.items() if key != "id"})
            for row in self._all(query)
        ]

    def changes(self, since: datetime, limit: int) -> list[Transaction]:
        query = (
            sa.select(transactions)
            .where(transactions.c.updated_at >= since)
            .order_by(transactions.c.updated_at, transactions.c.tx_hash)
            .limit(limit)
        )
        return [_transaction(row) for row in self._all(query)]

    def network_fee(self, chain: str) -> NetworkFee:
        row = self._one(sa.select(network_fees).where(network_fees.c.chain == chain))
        if row is None:
            raise NotFound(f"no fee quote for {chain}")
        return NetworkFee(**row)

    def freeze_account(self, account_id: str, reason: str, conversation_id: str) -> Ticket:
        draft = TicketDraft(
            kind=TicketKind.INCIDENT,
            category="account_frozen",
            description=reason,
            priority=Priority.URGENT,
            conversation_id=conversation_id,
            account_id=account_id,
        )
        try:
            with self._engine.begin() as connection:
                updated = connection.execute(
                    accounts.update().where(accounts.c.account_id == account_id).values(frozen=True)
                )
                if updated.rowcount == 0:
                    raise AccountNotFound(account_id)
                return self._insert_ticket(connection, draft)
        except SQLAlchemyError as error:
            raise WalletUnavailable("database error") from error

    def create_ticket(self, draft: TicketDraft) -> Ticket:
        try:
            with self._engine.begin() as connection:
                return self._insert_ticket(connection, draft)
        except SQLAlchemyError as error:
            raise WalletUnavailable("database error") from error

    def tickets(
        self, *, account_id: str | None, conversation_id: str, kind: TicketKind, limit: int
    ) -> list[Ticket]:
        owner = (
            tickets.c.account_id == account_id
            if account_id is not None
            else tickets.c.conversation_id == conversation_id
        )
        query = (
            sa.select(tickets)
            .where(owner, tickets.c.kind == kind.value)
            .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
            .limit(limit)
        )
        return [_ticket(row) for row in self._all(query)]

    def _insert_ticket(self, connection: sa.engine.Connection, draft: TicketDraft) -> Ticket:
        now = datetime.now(timezone.utc)
        values = {
            "kind": draft.kind.value,
            "category": draft.category,
            "description": draft.description,
            "priority": draft.priority.value,
            "state": TicketState.OPEN.value,
            "conversation_id": draft.conversation_id,
            "account_id": draft.account_id,
            "created_at": now,
            "updated_at": now,
        }
        ticket_id = connection.execute(tickets.insert().values(**values)).inserted_primary_key[0]
        number = f"{TICKET_PREFIX[draft.kind]}{now:%Y%m%d}{ticket_id % 100_000:05d}"
        connection.execute(tickets.update().where(tickets.c.id == ticket_id).values(number=number))
        row = (
            connection.execute(sa.select(tickets).where(tickets.c.id == ticket_id)).mappings().one()
        )
        return _ticket(row)

    def _one(self, query: sa.sql.Select) -> dict[str, Any] | None:
        rows = self._all(query)
        return rows[0] if rows else None

    def _all(self, query: sa.sql.Select) -> list[dict[str, Any]]:
        try:
            with self._engine.connect() as connection:
                return [dict(row) for row in connection.execute(query).mappings()]
        except SQLAlchemyError as error:
            logger.error("wallet database query failed: %s", type(error).__name__)
            raise WalletUnavailable("database error") from error


def _transaction(row: dict[str, Any]) -> Transaction:
    reason = row["failure_reason"]
    return Transaction(
        **{
            **row,
            "direction": Direction(row["direction"]),
            "status": TxStatus(row["status"]),
            "failure_reason": FailureReason(reason) if reason else None,
        }
    )


def _ticket(row: dict[str, Any]) -> Ticket:
    return Ticket(
        **{key: value for key, value in row.items() if key != "id"}
        | {
            "kind": TicketKind(row["kind"]),
            "priority": Priority(row["priority"]),
            "state": TicketState(row["state"]),
        }
    )
