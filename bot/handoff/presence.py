"""Who is at the desk: agents' presence from their heartbeats, their teams, capacity and load.

The console sends a heartbeat while it is open; an agent who said "online" and sent none for
``AWAY_AFTER`` counts as away, so a closed laptop stops getting tickets. Presence lives in the
handoff database, so every server sees the same desk.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.handoff.directory import DEFAULT_CAPACITY, role_of, teams_of
from bot.handoff.records import AgentProfile, Presence, State
from bot.handoff.tables import agents, tickets, utc_now

AWAY_AFTER = timedelta(minutes=5)


class Roster:
    """Presence and load of the agents in the handoff database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def heartbeat(self, username: str, presence: Presence | None = None) -> AgentProfile | None:
        """The agent is at the console (and now ``presence``, when given); None if there is
        no such enabled agent."""
        values: dict[str, Any] = {"last_seen": utc_now()}
        if presence is not None:
            values["presence"] = presence.value
        with self._engine.begin() as connection:
            updated = connection.execute(
                agents.update()
                .where(agents.c.username == username, agents.c.disabled_at.is_(None))
                .values(**values)
            )
        return self.profile(username) if updated.rowcount else None

    def profile(self, username: str) -> AgentProfile | None:
        """One agent's profile (every console request reads the requester's)."""
        with self._engine.connect() as connection:
            row = (
                connection.execute(sa.select(agents).where(agents.c.username == username))
                .mappings()
                .first()
            )
            if row is None:
                return None
            load = connection.execute(
                sa.select(sa.func.count())
                .select_from(tickets)
                .where(tickets.c.state == State.ASSIGNED.value, tickets.c.agent == username)
            ).scalar_one()
        return _profile(row, int(load), utc_now())

    def profiles(self, now: datetime | None = None) -> list[AgentProfile]:
        """Every agent, with their presence now and how many tickets they hold."""
        now = now or utc_now()
        with self._engine.connect() as connection:
            loads = _loads(connection)
            rows = connection.execute(sa.select(agents).order_by(agents.c.username)).mappings()
            return [_profile(row, loads.get(row["username"], 0), now) for row in rows]

    def online(self, now: datetime | None = None) -> list[AgentProfile]:
        return [p for p in self.profiles(now) if p.presence is Presence.ONLINE]

    def gone(self, longer_than: timedelta, now: datetime | None = None) -> list[str]:
        """Agents holding tickets whose last heartbeat (going offline included) is older than
        ``longer_than``. One who never sent any works through the API alone (claims by hand):
        their tickets go back only when unanswered (``TicketStore.take_back``)."""
        cutoff = (now or utc_now()) - longer_than
        with self._engine.connect() as connection:
            holding = set(_loads(connection))
            rows = connection.execute(
                sa.select(agents.c.username, agents.c.last_seen).where(
                    agents.c.username.in_(holding)
                )
            ).all()
        return sorted(name for name, seen in rows if seen is not None and seen <= cutoff)


def _loads(connection: Connection) -> dict[str, int]:
    rows = connection.execute(
        sa.select(tickets.c.agent, sa.func.count())
        .where(tickets.c.state == State.ASSIGNED.value)
        .group_by(tickets.c.agent)
    ).all()
    return {str(agent): int(count) for agent, count in rows if agent}


def presence_now(stored: str | None, last_seen: datetime | None, now: datetime) -> Presence:
    """What the agent is now: online or away as they said, away after ``AWAY_AFTER`` without a
    heartbeat; offline when they said so, or never said anything."""
    said = Presence(stored) if stored in {p.value for p in Presence} else Presence.OFFLINE
    if said is Presence.OFFLINE or last_seen is None:
        return Presence.OFFLINE
    return Presence.AWAY if now - last_seen > AWAY_AFTER else said


def _profile(row: Any, load: int, now: datetime) -> AgentProfile:
    disabled = row["disabled_at"] is not None
    return AgentProfile(
        username=row["username"],
        display_name=row["display_name"],
        role=role_of(row["role"]),
        teams=teams_of(row["teams"]),
        capacity=row["capacity"] or DEFAULT_CAPACITY,
        presence=Presence.OFFLINE
        if disabled
        else presence_now(row["presence"], row["last_seen"], now),
        disabled=disabled,
        load=load,
        last_assigned_at=row["last_assigned_at"],
    )
