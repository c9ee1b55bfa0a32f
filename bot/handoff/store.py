"""The handoff store (SQLAlchemy Core): tickets, agents, agent sessions and the REST outbox.

Shared by the action server (which opens tickets) and the Rasa server (agent console, delivery),
so it lives in a database: SQLite by default, PostgreSQL in production.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import UtcDateTime, open_database
from bot.handoff.passwords import hash_password, verify_password
from bot.handoff.records import URGENCY_OF, Reason, State, Summary, Ticket, Urgency
from bot.handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

tickets = sa.Table(
    "handoff_tickets",
    metadata,
    sa.Column("ticket_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("urgency", sa.String(16), nullable=False),
    sa.Column("urgency_rank", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("assigned_at", UtcDateTime),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("agent", sa.String(64)),
    sa.Column("close_note", sa.Text),
    sa.Column("rating", sa.Integer),
    sa.Column("cancelled", sa.Boolean, nullable=False, default=False),
    sa.Column("timeout_notified", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_handoff_tickets_state", "state", "urgency_rank", "created_at"),
    sa.Index("ix_handoff_tickets_conversation", "conversation_id", "created_at"),
)

agents = sa.Table(
    "handoff_agents",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
)

sessions = sa.Table(
    "handoff_agent_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), sa.ForeignKey(agents.c.username), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

outbox = sa.Table(
    "handoff_outbox",
    metadata,
    sa.Column("message_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_handoff_outbox_conversation", "conversation_id", "message_id"),
)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class HandoffStore:
    """Tickets and agents; every value reaches SQL as a bound parameter."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> HandoffStore:
        return cls(open_database(url, metadata))

    # Tickets

    def open_ticket(
        self, conversation_id: str, channel: str, reason: Reason, summary: Summary
    ) -> Ticket:
        """Queues a ticket, or returns the conversation's ticket that is still open."""
        with self._engine.begin() as connection:
            existing = self._open_for(connection, conversation_id)
            if existing is not None:
                return existing
            urgency = URGENCY_OF[reason]
            ticket_id = connection.execute(
                tickets.insert().values(
                    conversation_id=conversation_id,
                    channel=channel,
                    reason=reason.value,
                    urgency=urgency.value,
                    urgency_rank=urgency.rank,
                    state=State.QUEUED.value,
                    summary=json.dumps(summary.as_dict(), ensure_ascii=False),
                    created_at=utc_now(),
                    cancelled=False,
                    timeout_notified=False,
                )
            ).inserted_primary_key[0]
            return self._require(connection, ticket_id)

    def ticket(self, ticket_id: int) -> Ticket | None:
        with self._engine.connect() as connection:
            return self._get(connection, ticket_id)

    def open_ticket_for(self, conversation_id: str) -> Ticket | None:
        """The conversation's queued or assigned ticket, if any."""
        with self._engine.connect() as connection:
            return self._open_for(connection, conversation_id)

    def last_closed_for(self, conversation_id: str) -> Ticket | None:
        query = (
            sa.select(tickets)
            .where(
                tickets.c.conversation_id == conversation_id,
                tickets.c.state == State.CLOSED.value,
                tickets.c.cancelled.is_(False),
            )
            .order_by(tickets.c.closed_at.desc())
            .limit(1)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _ticket(row) if row else None

    def queue(self) -> list[Ticket]:
        """Open tickets: most urgent first, then longest waiting."""
        query = (
            sa.select(tickets)
            .where(tickets.c.state.in_([State.QUEUED.value, State.ASSIGNED.value]))
            .order_by(tickets.c.urgency_rank.desc(), tickets.c.created_at, tickets.c.ticket_id)
        )
        with self._engine.connect() as connection:
            return [_ticket(row) for row in connection.execute(query).mappings()]

    def position(self, ticket: Ticket) -> int:
        """1 for the next ticket an agent will take."""
        queued = [t for t in self.queue() if t.state is State.QUEUED]
        ids = [t.ticket_id for t in queued]
        return ids.index(ticket.ticket_id) + 1 if ticket.ticket_id in ids else 0

    def claim(self, ticket_id: int, agent: str) -> Ticket | None:
        """Assigns a queued ticket to ``agent``; None if someone else got it first."""
        with self._engine.begin() as connection:
            updated = connection.execute(
                tickets.update()
                .where(tickets.c.ticket_id == ticket_id, tickets.c.state == State.QUEUED.value)
                .values(state=State.ASSIGNED.value, agent=agent, assigned_at=utc_now())
            )
            return self._get(connection, ticket_id) if updated.rowcount else None

    def close(self, ticket_id: int, agent: str, note: str) -> Ticket | None:
        """Closes the agent's own assigned ticket; None if it is not theirs or not assigned."""
        with self._engine.begin() as connection:
            updated = connection.execute(
                tickets.update()
                .where(
                    tickets.c.ticket_id == ticket_id,
                    tickets.c.agent == agent,
                    tickets.c.state == State.ASSIGNED.value,
                )
                .values(state=State.CLOSED.value, closed_at=utc_now(), close_note=note)
            )
            return self._get(connection, ticket_id) if updated.rowcount else None

    def cancel(self, conversation_id: str) -> Ticket | None:
        """The user gave up waiting: closes their queued (not yet assigned) ticket."""
        with self._engine.begin() as connection:
            ticket = self._open_for(connection, conversation_id)
            if ticket is None or ticket.state is not State.QUEUED:
                return None
            connection.execute(
                tickets.update()
                .where(tickets.c.ticket_id == ticket.ticket_id)
                .values(state=State.CLOSED.value, closed_at=utc_now(), cancelled=True)
            )
            return self._get(connection, ticket.ticket_id)

    def rate(self, conversation_id: str, rating: int) -> Ticket | None:
        """Stores the user's 1–5 rating on their most recently closed ticket."""
        ticket = self.last_closed_for(conversation_id)
        if ticket is None or not 1 <= rating <= 5:
            return None
        with self._engine.begin() as connection:
            connection.execute(
                tickets.update()
                .where(tickets.c.ticket_id == ticket.ticket_id)
                .values(rating=rating)
            )
            return self._get(connection, ticket.ticket_id)

    def claim_timeouts(self, older_than: timedelta) -> list[Ticket]:
        """Queued tickets nobody picked up in time, each returned once (safe across servers)."""
        cutoff = utc_now() - older_than
        waiting = sa.select(tickets.c.ticket_id).where(
            tickets.c.state == State.QUEUED.value,
            tickets.c.created_at <= cutoff,
            tickets.c.timeout_notified.is_(False),
        )
        claimed = []
        with self._engine.begin() as connection:
            for (ticket_id,) in connection.execute(waiting).all():
                updated = connection.execute(
                    tickets.update()
                    .where(tickets.c.ticket_id == ticket_id, tickets.c.timeout_notified.is_(False))
                    .values(timeout_notified=True)
                )
                if updated.rowcount:
                    claimed.append(self._require(connection, ticket_id))
        return claimed

    # Agents

    def add_agent(self, username: str, display_name: str, password: str) -> None:
        """Creates the agent, or replaces their name and password."""
        values = {"display_name": display_name, "password_hash": hash_password(password)}
        with self._engine.begin() as connection:
            updated = connection.execute(
                agents.update().where(agents.c.username == username).values(**values)
            )
            if not updated.rowcount:
                connection.execute(agents.insert().values(username=username, **values))

    def display_name(self, username: str) -> str:
        """The name users see for an agent (the username if there is none)."""
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(agents.c.display_name).where(agents.c.username == username)
            ).first()
        return str(row[0]) if row else username

    def login(self, username: str, password: str, lifetime: timedelta) -> str | None:
        """A new session token for valid credentials, else None."""
        with self._engine.begin() as connection:
            row = connection.execute(
                sa.select(agents.c.password_hash).where(agents.c.username == username)
            ).first()
            if row is None or not verify_password(password, row[0]):
                return None
            token = secrets.token_urlsafe(32)
            connection.execute(
                sessions.insert().values(
                    token_hash=_token_hash(token),
                    username=username,
                    expires_at=utc_now() + lifetime,
                )
            )
            return token

    def agent_for(self, token: str) -> str | None:
        """The agent a session token belongs to, if it is valid and not expired."""
        query = sa.select(sessions.c.username).where(
            sessions.c.token_hash == _token_hash(token), sessions.c.expires_at > utc_now()
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return str(row[0]) if row else None

    def logout(self, token: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(token)))

    # Outbox for request/response channels

    def post(self, conversation_id: str, message: dict[str, Any]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                outbox.insert().values(
                    conversation_id=conversation_id,
                    message=json.dumps(message, ensure_ascii=False),
                    created_at=utc_now(),
                )
            )

    def collect(self, conversation_id: str) -> list[dict[str, Any]]:
        """Takes the conversation's waiting messages, oldest first, each once."""
        with self._engine.begin() as connection:
            rows = connection.execute(
                sa.select(outbox.c.message_id, outbox.c.message)
                .where(outbox.c.conversation_id == conversation_id)
                .order_by(outbox.c.message_id)
            ).all()
            if rows:
                connection.execute(
                    outbox.delete().where(outbox.c.message_id.in_([row[0] for row in rows]))
                )
        return [json.loads(row[1]) for row in rows]

    def _open_for(self, connection: sa.engine.Connection, conversation_id: str) -> Ticket | None:
        row = (
            connection.execute(
                sa.select(tickets)
                .where(
                    tickets.c.conversation_id == conversation_id,
                    tickets.c.state.in_([State.QUEUED.value, State.ASSIGNED.value]),
                )
                .order_by(tickets.c.created_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        return _ticket(row) if row else None

    def _require(self, connection: sa.engine.Connection, ticket_id: int) -> Ticket:
        return _ticket_or_fail(self._get(connection, ticket_id), ticket_id)

    def _get(self, connection: sa.engine.Connection, ticket_id: int) -> Ticket | None:
        row = (
            connection.execute(sa.select(tickets).where(tickets.c.ticket_id == ticket_id))
            .mappings()
            .first()
        )
        return _ticket(row) if row else None


def _ticket_or_fail(ticket: Ticket | None, ticket_id: int) -> Ticket:
    if ticket is None:
        raise LookupError(f"handoff ticket {ticket_id} vanished")
    return ticket


def _ticket(row: Any) -> Ticket:
    return Ticket(
        ticket_id=row["ticket_id"],
        conversation_id=row["conversation_id"],
        channel=row["channel"],
        reason=Reason(row["reason"]),
        urgency=Urgency(row["urgency"]),
        state=State(row["state"]),
        summary=Summary(**json.loads(row["summary"])),
        created_at=row["created_at"],
        assigned_at=row["assigned_at"],
        closed_at=row["closed_at"],
        agent=row["agent"],
        close_note=row["close_note"],
        rating=row["rating"],
        cancelled=bool(row["cancelled"]),
    )


@lru_cache(maxsize=1)
def handoff_store() -> HandoffStore:
    """The process-wide store, from HANDOFF_DB_URL (default var/handoff.db)."""
    return HandoffStore.from_url(HandoffSettings.from_env().db_url)
