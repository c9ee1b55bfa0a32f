"""Handoff tickets and their queue: open, claim, close, cancel, rate, and pickup timeouts.

A conversation has at most one open (queued or assigned) ticket. Claims, closes and timeouts are
conditional UPDATEs, so two agents or servers racing for a ticket cannot both win.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.handoff.records import URGENCY_OF, Reason, State, Summary, Ticket, Urgency
from bot.handoff.tables import tickets, utc_now

_OPEN = tickets.c.state.in_([State.QUEUED.value, State.ASSIGNED.value])


class TicketStore:
    """Tickets in the handoff database; every value reaches SQL as a bound parameter."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def open(
        self,
        conversation_id: str,
        channel: str,
        reason: Reason,
        summary: Summary,
        urgency: Urgency | None = None,
    ) -> Ticket:
        """Queues a ticket (at the reason's urgency unless given), or returns the open one."""
        with self._engine.begin() as connection:
            existing = _open_for(connection, conversation_id)
            if existing is not None:
                return existing
            urgency = urgency or URGENCY_OF[reason]
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
            return _require(connection, ticket_id)

    def get(self, ticket_id: int) -> Ticket | None:
        with self._engine.connect() as connection:
            return _get(connection, ticket_id)

    def open_for(self, conversation_id: str) -> Ticket | None:
        """The conversation's queued or assigned ticket, if any."""
        with self._engine.connect() as connection:
            return _open_for(connection, conversation_id)

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

    def queue(self, limit: int | None = None, offset: int = 0) -> list[Ticket]:
        """Open tickets: most urgent first, then longest waiting (``limit`` of them from
        ``offset`` on, or all)."""
        query = (
            sa.select(tickets)
            .where(_OPEN)
            .order_by(tickets.c.urgency_rank.desc(), tickets.c.created_at, tickets.c.ticket_id)
            .limit(limit)
            .offset(offset)
        )
        with self._engine.connect() as connection:
            return [_ticket(row) for row in connection.execute(query).mappings()]

    def queue_size(self) -> int:
        """How many tickets are open (queued or assigned)."""
        query = sa.select(sa.func.count()).select_from(tickets).where(_OPEN)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

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
            return _get(connection, ticket_id) if updated.rowcount else None

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
            return _get(connection, ticket_id) if updated.rowcount else None

    def cancel(self, conversation_id: str) -> Ticket | None:
        """The user gave up waiting: closes their queued (not yet assigned) ticket."""
        with self._engine.begin() as connection:
            ticket = _open_for(connection, conversation_id)
            if ticket is None or ticket.state is not State.QUEUED:
                return None
            connection.execute(
                tickets.update()
                .where(tickets.c.ticket_id == ticket.ticket_id)
                .values(state=State.CLOSED.value, closed_at=utc_now(), cancelled=True)
            )
            return _get(connection, ticket.ticket_id)

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
            return _get(connection, ticket.ticket_id)

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
                    claimed.append(_require(connection, ticket_id))
        return claimed


def _open_for(connection: Connection, conversation_id: str) -> Ticket | None:
    row = (
        connection.execute(
            sa.select(tickets)
            .where(tickets.c.conversation_id == conversation_id, _OPEN)
            .order_by(tickets.c.created_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return _ticket(row) if row else None


def _require(connection: Connection, ticket_id: int) -> Ticket:
    ticket = _get(connection, ticket_id)
    if ticket is None:
        raise LookupError(f"handoff ticket {ticket_id} vanished")
    return ticket


def _get(connection: Connection, ticket_id: int) -> Ticket | None:
    row = (
        connection.execute(sa.select(tickets).where(tickets.c.ticket_id == ticket_id))
        .mappings()
        .first()
    )
    return _ticket(row) if row else None


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
