"""Automatic assignment: queued tickets go to the least-loaded online agent of their team, most
urgent first, and the wait a queued user is told.

A ticket of the security team waits for a security agent while one is online (busy or not); with
none online any online agent may take it, so a theft victim is never stuck behind an empty team.
A ticket just taken back from an agent (or transferred away by them) goes to another one when
there is one.

Among agents with free capacity the one holding fewest tickets wins; equal loads go to the one
given fewest tickets this shift, then to the one assigned longest ago, so over a day every agent
of a team handles about as many tickets as the others.

One round assigns as many tickets as there is free capacity. Rounds are serialised: within a
server by a lock, across servers on PostgreSQL by a transaction-scoped advisory lock, so two
servers never both give the last free place of an agent. Each assignment is still the
conditional UPDATE of ``bot.handoff.tickets`` (a ticket claimed by hand meanwhile is skipped).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.handoff.presence import Roster
from bot.handoff.records import AgentProfile, State, Team, Ticket
from bot.handoff.tables import agents, tickets, utc_now
from bot.handoff.tickets import assign_in

# Any 64-bit number the application owns: the key of the PostgreSQL advisory lock.
ADVISORY_LOCK = 0x494D5F6465736B  # "IM_desk"
SOON_MINUTES = 1
# Equal loads go to whoever was given fewest tickets within this window (a working day's shift).
SHIFT = timedelta(hours=12)


@dataclass(frozen=True)
class Assignment:
    ticket: Ticket
    agent: AgentProfile


class Assigner:
    """Assigns queued tickets of the handoff database to the online agents."""

    def __init__(self, engine: Engine, roster: Roster) -> None:
        self._engine = engine
        self._roster = roster
        self._round = threading.Lock()

    def assign(self, now: datetime | None = None) -> list[Assignment]:
        """One round: the assignments made (each ticket given once, across servers)."""
        with self._round, self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK)))
            online = self._roster.online(now)
            desk = [p for p in online if p.load < p.capacity]
            if not desk:
                return []
            teams_online = {team for p in online for team in p.teams}
            counts = _assigned_lately(connection)
            made = []
            for ticket_id, team, returned_from in _queued(connection):
                wanted = Team(team or Team.GENERAL.value)
                chosen = _choose(desk, wanted, teams_online, returned_from, counts)
                if chosen is None:
                    continue
                ticket = _give(connection, ticket_id, chosen.username)
                if ticket is None:
                    continue
                desk.remove(chosen)
                counts[chosen.username] = counts.get(chosen.username, 0) + 1
                busier = replace(chosen, load=chosen.load + 1, last_assigned_at=utc_now())
                if busier.load < busier.capacity:
                    desk.append(busier)
                made.append(Assignment(ticket, busier))
                if not desk:
                    break
            return made

    def wait_minutes(self, ticket: Ticket, minutes_per_ticket: float) -> int | None:
        """About how long ``ticket`` will wait for an agent: the tickets of its team ahead of it
        against the free places and agents online now. None when nobody who could take it is
        online."""
        online = self._roster.online()
        able = [p for p in online if ticket.team in p.teams] or online
        if not able:
            return None
        ahead = self._ahead(ticket)
        free = sum(max(p.capacity - p.load, 0) for p in able)
        if ahead < free:
            return SOON_MINUTES
        rounds = math.ceil((ahead - free + 1) / len(able))
        return max(int(rounds * minutes_per_ticket), SOON_MINUTES)

    def _ahead(self, ticket: Ticket) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(tickets)
            .where(
                tickets.c.state == State.QUEUED.value,
                tickets.c.ticket_id != ticket.ticket_id,
                sa.func.coalesce(tickets.c.team, Team.GENERAL.value) == ticket.team.value,
                sa.or_(
                    tickets.c.urgency_rank > ticket.urgency.rank,
                    sa.and_(
                        tickets.c.urgency_rank == ticket.urgency.rank,
                        tickets.c.created_at <= ticket.created_at,
                    ),
                ),
            )
        )
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())


def _queued(connection: Connection) -> list[tuple[int, str | None, str | None]]:
    rows = connection.execute(
        sa.select(tickets.c.ticket_id, tickets.c.team, tickets.c.returned_from)
        .where(tickets.c.state == State.QUEUED.value)
        .order_by(tickets.c.urgency_rank.desc(), tickets.c.created_at, tickets.c.ticket_id)
    ).all()
    return [(int(ticket_id), team, returned) for ticket_id, team, returned in rows]


def _choose(
    desk: list[AgentProfile],
    team: Team,
    teams_online: set[Team],
    returned_from: str | None,
    counts: dict[str, int],
) -> AgentProfile | None:
    """The agent with free capacity who should get a ticket of ``team`` now, if any."""
    candidates = [p for p in desk if team in p.teams] if team in teams_online else desk
    others = [p for p in candidates if p.username != returned_from]
    pool = others or candidates
    if not pool:
        return None
    return min(pool, key=lambda agent: _assignment_order(agent, counts))


def _assignment_order(agent: AgentProfile, counts: dict[str, int]) -> tuple[int, int, float, str]:
    """Fewest tickets held first, then fewest given this shift, then assigned longest ago."""
    last = agent.last_assigned_at.timestamp() if agent.last_assigned_at else 0.0
    return agent.load, counts.get(agent.username, 0), last, agent.username


def _assigned_lately(connection: Connection) -> dict[str, int]:
    """How many tickets each agent was given within the last ``SHIFT``."""
    rows = connection.execute(
        sa.select(tickets.c.agent, sa.func.count())
        .where(tickets.c.assigned_at >= utc_now() - SHIFT, tickets.c.agent.isnot(None))
        .group_by(tickets.c.agent)
    ).all()
    return {str(agent): int(n) for agent, n in rows}


def _give(connection: Connection, ticket_id: int, username: str) -> Ticket | None:
    ticket = assign_in(connection, ticket_id, username)
    if ticket is not None:
        connection.execute(
            agents.update().where(agents.c.username == username).values(last_assigned_at=utc_now())
        )
    return ticket
