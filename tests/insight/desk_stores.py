"""A known day of the agent desk, written into a handoff store, for the desk insight tests.

Tickets are written into the handoff store's tables with chosen times (as the desk leaves them:
team, agent, assignment, first reply, close, rating), tags through the desk's own ``NoteBook``,
agents with their display names, so each expected figure can be counted by hand from
``DESK_TICKETS``. ``write_pre_desk_store`` writes a handoff database as the version before the
desk made it: no team, no reply times, no tags table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.database import UtcDateTime
from bot.handoff.records import URGENCY_OF, Reason, State
from bot.handoff.store import HandoffStore
from bot.handoff.tables import agents, tickets

HOSTILE_NAME = '<img id="pwned" src=x onerror=alert(1)>王'
HOSTILE_TAG = "<script>x</script>"
# Display names by username; "ghost" closed tickets but is not in the directory any more.
DISPLAY_NAMES = {"li": "李雷", "wang": HOSTILE_NAME, "zhao": "赵敏"}


@dataclass(frozen=True)
class DeskTicket:
    """A ticket; times in seconds after the previous step (wait, reply, handling)."""

    team: str | None
    agent: str | None
    # Opened this many seconds after the store's start.
    opened: int
    wait: int | None = None
    # Seconds from the assignment to the first reply; negative: replied before the assignment
    # (by the agent who transferred it).
    reply: int | None = None
    handling: int | None = None
    rating: int | None = None
    cancelled: bool = False
    tags: tuple[str, ...] = ()


DESK_TICKETS = [
    DeskTicket(
        "general", "li", 0, wait=60, reply=30, handling=600, rating=5, tags=("转账", "USDT")
    ),
    DeskTicket("general", "li", 100, wait=120, reply=90, handling=1200, rating=4, tags=("转账",)),
    # Closed without a reply.
    DeskTicket("general", "li", 200, wait=300, handling=60, rating=1),
    # Still open, answered.
    DeskTicket("general", "wang", 300, wait=30, reply=10, tags=(HOSTILE_TAG,)),
    DeskTicket("security", "zhao", 400, wait=10, reply=20, handling=900, rating=3, tags=("被盗",)),
    # Answered by someone else, then transferred to zhao: no first response of zhao's.
    DeskTicket("security", "zhao", 500, wait=200, reply=-180, handling=300, rating=5),
    # Queued (no team recorded: 综合), and cancelled: only their tags count.
    DeskTicket(None, None, 600, tags=("转账",)),
    DeskTicket("general", None, 700, cancelled=True, tags=("转账",)),
    DeskTicket("general", "ghost", 800, wait=600, reply=60, handling=120),
]
# Opened a day before the others: outside a period that starts with them.
EARLIER = DeskTicket("general", "li", -86_400, wait=5, reply=5, handling=5, rating=1, tags=("旧",))


def _row(ticket: DeskTicket, start: datetime, desk: bool) -> dict[str, Any]:
    created = start + timedelta(seconds=ticket.opened)
    assigned = created + timedelta(seconds=ticket.wait) if ticket.wait is not None else None
    replied = (
        assigned + timedelta(seconds=ticket.reply)
        if assigned is not None and ticket.reply is not None
        else None
    )
    if ticket.cancelled:
        closed: datetime | None = created + timedelta(seconds=30)
    elif assigned is not None and ticket.handling is not None:
        closed = assigned + timedelta(seconds=ticket.handling)
    else:
        closed = None
    urgency = URGENCY_OF[Reason.REQUESTED]
    state = State.CLOSED if closed else State.ASSIGNED if assigned else State.QUEUED
    row: dict[str, Any] = {
        "conversation_id": f"desk-{ticket.opened}",
        "channel": "rest",
        "reason": Reason.REQUESTED.value,
        "urgency": urgency.value,
        "urgency_rank": urgency.rank,
        "state": state.value,
        "summary": json.dumps({}),
        "created_at": created,
        "assigned_at": assigned,
        "closed_at": closed,
        "agent": ticket.agent,
        "rating": ticket.rating,
        "cancelled": ticket.cancelled,
        "timeout_notified": False,
    }
    if desk:
        row.update(team=ticket.team, first_response_at=replied)
    return row


def write_desk_store(
    url: str,
    start: datetime,
    rows: list[DeskTicket],
    names: Mapping[str, str] = DISPLAY_NAMES,
) -> HandoffStore:
    """Writes the agents ``names`` (display names by username) and the tickets (opened from
    ``start`` on) into the handoff store at ``url``; returns the store."""
    store = HandoffStore.from_url(url)
    with store.engine.begin() as connection:
        for username, name in names.items():
            connection.execute(
                agents.insert().values(username=username, display_name=name, password_hash="-")
            )
        ids = [
            connection.execute(
                tickets.insert().values(**_row(row, start, True))
            ).inserted_primary_key[0]
            for row in rows
        ]
    for ticket_id, row in zip(ids, rows, strict=True):
        if row.tags:
            store.notes.set_tags(ticket_id, list(row.tags))
    return store


# The tables as the version before the desk created them (bot/handoff/tables.py at 1221d24^).
PRE_DESK = sa.MetaData()
PRE_DESK_TICKETS = sa.Table(
    "handoff_tickets",
    PRE_DESK,
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
)
PRE_DESK_AGENTS = sa.Table(
    "handoff_agents",
    PRE_DESK,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("disabled_at", UtcDateTime),
    sa.Column("role", sa.String(16)),
)


def write_pre_desk_store(url: str, start: datetime, rows: list[DeskTicket]) -> None:
    """A handoff database as the version before the desk left it, holding ``rows`` (their
    teams, replies and tags are lost, as that version never recorded them)."""
    engine = sa.create_engine(url, future=True)
    PRE_DESK.create_all(engine)
    with engine.begin() as connection:
        for username, name in DISPLAY_NAMES.items():
            connection.execute(
                PRE_DESK_AGENTS.insert().values(
                    username=username, display_name=name, password_hash="-"
                )
            )
        for row in rows:
            connection.execute(PRE_DESK_TICKETS.insert().values(**_row(row, start, False)))
    engine.dispose()
