"""Handoff tickets and their queue: open, claim, reply, transfer, close, cancel, rate, unread
counts, typing, and pickup timeouts (automatic assignment is ``bot.handoff.assignment``).

A conversation has at most one open (queued or assigned) ticket. Claims, transfers, closes and
timeouts are conditional UPDATEs, so two agents or servers racing for a ticket cannot both win.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.handoff.records import (
    URGENCY_OF,
    AgentProfile,
    Reason,
    State,
    Summary,
    Team,
    Ticket,
    Urgency,
)
from bot.handoff.tables import ticket_agents, tickets, utc_now

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
        team: Team = Team.GENERAL,
        account_id: str | None = None,
    ) -> Ticket:
        """Queues a ticket for ``team`` (at the reason's urgency unless given), or returns the
        open one."""
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
                    team=team.value,
                    account_id=account_id,
                    user_messages=0,
                    read_messages=0,
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
        return ticket_of(row) if row else None

    def queue(
        self,
        limit: int | None = None,
        offset: int = 0,
        agent: str | None = None,
        viewer: AgentProfile | None = None,
    ) -> list[Ticket]:
        """Open tickets (``agent``'s assigned ones only, when given; those ``viewer`` may open,
        when given): most urgent first, then longest waiting (``limit`` of them from ``offset``
        on, or all)."""
        query = (
            sa.select(tickets)
            .where(_OPEN, _held_by(agent), _visible_to(viewer))
            .order_by(tickets.c.urgency_rank.desc(), tickets.c.created_at, tickets.c.ticket_id)
            .limit(limit)
            .offset(offset)
        )
        with self._engine.connect() as connection:
            return [ticket_of(row) for row in connection.execute(query).mappings()]

    def held_by(self, ticket_id: int, agent: str) -> bool:
        """Whether ``agent`` ever held the ticket (claimed, assigned or transferred to)."""
        query = sa.select(ticket_agents.c.username).where(
            ticket_agents.c.ticket_id == ticket_id, ticket_agents.c.username == agent
        )
        with self._engine.connect() as connection:
            return connection.execute(query).first() is not None

    def window(self, ticket: Ticket) -> tuple[datetime | None, datetime | None]:
        """The time the ticket's transcript covers: from the close of the conversation's ticket
        before it (None: the conversation's start) to its own close (None: still open)."""
        query = sa.select(sa.func.max(tickets.c.closed_at)).where(
            tickets.c.conversation_id == ticket.conversation_id,
            tickets.c.ticket_id != ticket.ticket_id,
            tickets.c.closed_at <= ticket.created_at,
        )
        with self._engine.connect() as connection:
            since = connection.execute(query).scalar_one_or_none()
        return since, ticket.closed_at

    def queue_size(self, agent: str | None = None, viewer: AgentProfile | None = None) -> int:
        """How many tickets ``queue`` has in all."""
        query = (
            sa.select(sa.func.count())
            .select_from(tickets)
            .where(_OPEN, _held_by(agent), _visible_to(viewer))
        )
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
            return assign_in(connection, ticket_id, agent)

    def transfer(
        self, ticket_id: int, agent: str, to_agent: str | None, team: Team | None
    ) -> Ticket | None:
        """Hands ``agent``'s assigned ticket to ``to_agent`` (assigned to them at once) or back
        to ``team``'s queue; None if the ticket is not ``agent``'s."""
        values: dict[str, Any] = {"team": team.value} if team else {}
        if to_agent is None:
            values.update(state=State.QUEUED.value, agent=None, assigned_at=None)
        with self._engine.begin() as connection:
            updated = connection.execute(
                tickets.update()
                .where(_held(ticket_id, agent))
                .values(**values, returned_from=agent if to_agent is None else None)
            )
            if not updated.rowcount:
                return None
            if to_agent is not None:
                _assign(connection, ticket_id, to_agent, State.ASSIGNED)
            return _get(connection, ticket_id)

    def release(self, agent: str) -> list[Ticket]:
        """Puts every ticket assigned to ``agent`` back in the queue (their account was
        disabled); the tickets as queued again."""
        with self._engine.begin() as connection:
            ids = [
                row[0]
                for row in connection.execute(
                    sa.select(tickets.c.ticket_id).where(
                        tickets.c.agent == agent, tickets.c.state == State.ASSIGNED.value
                    )
                )
            ]
            released = [
                ticket
                for ticket_id in ids
                if (ticket := _return_to_queue(connection, ticket_id, agent)) is not None
            ]
        return released

    def take_back(
        self, older_than: timedelta, gone: list[str], now: datetime | None = None
    ) -> list[Ticket]:
        """Assigned tickets back in the queue: those whose agent has not replied within
        ``older_than`` of being assigned, and those of the ``gone`` agents (no heartbeat for as
        long); each returned once (safe across servers)."""
        cutoff = (now or utc_now()) - older_than
        no_reply = sa.and_(
            tickets.c.assigned_at <= cutoff,
            sa.or_(
                tickets.c.last_agent_reply_at.is_(None),
                tickets.c.last_agent_reply_at < tickets.c.assigned_at,
            ),
        )
        stale = sa.select(tickets.c.ticket_id, tickets.c.agent).where(
            tickets.c.state == State.ASSIGNED.value,
            sa.or_(no_reply, tickets.c.agent.in_(gone)) if gone else no_reply,
        )
        with self._engine.begin() as connection:
            rows = connection.execute(stale).all()
            returned = [_return_to_queue(connection, ticket_id, agent) for ticket_id, agent in rows]
        return [ticket for ticket in returned if ticket is not None]

    def replied(self, ticket_id: int, agent: str, transcript: str) -> Ticket | None:
        """Records ``agent``'s reply on their assigned ticket: first and last response times,
        everything the user wrote as read, and the transcript for search."""
        now = utc_now()
        with self._engine.begin() as connection:
            updated = connection.execute(
                tickets.update()
                .where(_held(ticket_id, agent))
                .values(
                    first_response_at=sa.func.coalesce(tickets.c.first_response_at, now),
                    last_agent_reply_at=now,
                    read_messages=tickets.c.user_messages,
                    agent_typing_until=None,
                    transcript=transcript,
                )
            )
            return _get(connection, ticket_id) if updated.rowcount else None

    def user_wrote(self, conversation_id: str) -> None:
        """Counts a message the user sent while their ticket is open (for the unread count)."""
        with self._engine.begin() as connection:
            connection.execute(
                tickets.update()
                .where(tickets.c.conversation_id == conversation_id, _OPEN)
                .values(
                    user_messages=sa.func.coalesce(tickets.c.user_messages, 0) + 1,
                    user_typing_until=None,
                    last_user_message_at=utc_now(),
                )
            )

    def mark_read(self, ticket_id: int, agent: str) -> None:
        """``agent`` has read their ticket's messages."""
        with self._engine.begin() as connection:
            connection.execute(
                tickets.update()
                .where(tickets.c.ticket_id == ticket_id, tickets.c.agent == agent)
                .values(read_messages=tickets.c.user_messages)
            )

    def typing(self, conversation_id: str, side: str, until: datetime | None) -> None:
        """The user (``side`` "user") or the agent ("agent") is typing until ``until`` (None:
        stopped) in the conversation's open ticket."""
        column = {"user": "user_typing_until", "agent": "agent_typing_until"}[side]
        with self._engine.begin() as connection:
            connection.execute(
                tickets.update()
                .where(tickets.c.conversation_id == conversation_id, _OPEN)
                .values(**{column: until})
            )

    def close(self, ticket_id: int, agent: str, note: str, transcript: str) -> Ticket | None:
        """Closes the agent's own assigned ticket; None if it is not theirs or not assigned."""
        with self._engine.begin() as connection:
            updated = connection.execute(
                tickets.update()
                .where(_held(ticket_id, agent))
                .values(
                    state=State.CLOSED.value,
                    closed_at=utc_now(),
                    close_note=note,
                    transcript=transcript,
                    agent_typing_until=None,
                    user_typing_until=None,
                )
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


def assign_in(connection: Connection, ticket_id: int, agent: str) -> Ticket | None:
    """Assigns a queued ticket to ``agent`` within ``connection``'s transaction; None if it is
    no longer queued (someone else got it first)."""
    return (
        _get(connection, ticket_id) if _assign(connection, ticket_id, agent, State.QUEUED) else None
    )


def _assign(connection: Connection, ticket_id: int, agent: str, state: State) -> bool:
    """Assigns the ticket, if it is in ``state``, to ``agent``, who can then find it."""
    updated = connection.execute(
        tickets.update()
        .where(tickets.c.ticket_id == ticket_id, tickets.c.state == state.value)
        .values(state=State.ASSIGNED.value, agent=agent, assigned_at=utc_now())
    )
    if not updated.rowcount:
        return False
    known = connection.execute(
        sa.select(ticket_agents.c.username).where(
            ticket_agents.c.ticket_id == ticket_id, ticket_agents.c.username == agent
        )
    ).first()
    if known is None:
        connection.execute(ticket_agents.insert().values(ticket_id=ticket_id, username=agent))
    return True


def _return_to_queue(connection: Connection, ticket_id: int, agent: str) -> Ticket | None:
    updated = connection.execute(
        tickets.update()
        .where(_held(ticket_id, agent))
        .values(
            state=State.QUEUED.value,
            agent=None,
            assigned_at=None,
            returned_from=agent,
            agent_typing_until=None,
        )
    )
    return _get(connection, ticket_id) if updated.rowcount else None


def _held_by(agent: str | None) -> sa.ColumnElement[bool]:
    return tickets.c.agent == agent if agent is not None else sa.true()


def _visible_to(viewer: AgentProfile | None) -> sa.ColumnElement[bool]:
    """The open tickets ``viewer`` may see in the queue (``bot.handoff.access.may_read``): an
    agent's own and those waiting in their teams' queues; a supervisor's, all."""
    if viewer is None or viewer.role.supervises:
        return sa.true()
    teams = [team.value for team in viewer.teams]
    waiting = sa.and_(
        tickets.c.state == State.QUEUED.value,
        sa.func.coalesce(tickets.c.team, Team.GENERAL.value).in_(teams),
    )
    return sa.or_(tickets.c.agent == viewer.username, waiting)


def _held(ticket_id: int, agent: str) -> sa.ColumnElement[bool]:
    """The ticket, while it is assigned to ``agent``."""
    return sa.and_(
        tickets.c.ticket_id == ticket_id,
        tickets.c.agent == agent,
        tickets.c.state == State.ASSIGNED.value,
    )


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
    return ticket_of(row) if row else None


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
    return ticket_of(row) if row else None


def ticket_of(row: Any) -> Ticket:
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
        team=Team(row["team"]) if row["team"] in {t.value for t in Team} else Team.GENERAL,
        first_response_at=row["first_response_at"],
        unread=max((row["user_messages"] or 0) - (row["read_messages"] or 0), 0),
        user_typing=_typing(row["user_typing_until"]),
        agent_typing=_typing(row["agent_typing_until"]),
        returned_from=row["returned_from"],
        account_id=row["account_id"],
        last_user_message_at=row["last_user_message_at"],
        last_agent_reply_at=row["last_agent_reply_at"],
    )


def _typing(until: datetime | None) -> bool:
    return until is not None and until > utc_now()
