"""Search over tickets and their redacted transcripts, for the console's search box.

A query is a ticket number (``#42`` or ``42``), ``tag:…``, ``agent:…``, or any text: a tx hash,
an address or words, looked for in the ticket's summary, transcript and notes. Transcripts are
kept redacted (``searchable``): e-mails, phone numbers and pasted mnemonics are masked, while
hashes and addresses, public on chain, stay whole so they can be searched. An agent finds the
tickets they held and those waiting in their teams' queues; supervisors and admins find all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.handoff.records import AgentProfile, State, Team, Ticket
from bot.handoff.tables import notes, ticket_agents, ticket_tags, tickets
from bot.handoff.tickets import ticket_of
from bot.privacy import chain_identifiers, mask_identifiers

MAX_QUERY = 200
MAX_RESULTS = 50
_NUMBER = re.compile(r"#?(\d{1,18})")


@dataclass(frozen=True)
class Found:
    ticket: Ticket
    excerpt: str


def searchable(lines: Iterable[Mapping[str, Any]]) -> str:
    """A transcript (``bot.handoff.console_io.transcript``'s lines) as search stores it."""
    masked, identifiers = [], []
    for line in lines:
        text = str(line.get("text") or "")
        masked.append(f"{line.get('role')}: {mask_identifiers(text)}")
        identifiers += chain_identifiers(text)
    return "\n".join([*masked, " ".join(dict.fromkeys(identifiers))])


class TicketSearch:
    """Finds tickets in the handoff database for one agent."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def search(self, query: str, viewer: AgentProfile, limit: int = MAX_RESULTS) -> list[Found]:
        """Newest first; nothing for an empty query."""
        query = " ".join(query.split())[:MAX_QUERY]
        if not query:
            return []
        select = sa.select(tickets).where(_matching(query), _visible_to(viewer))
        select = select.order_by(tickets.c.created_at.desc(), tickets.c.ticket_id.desc())
        with self._engine.connect() as connection:
            rows = list(connection.execute(select.limit(limit)).mappings())
        return [Found(ticket_of(row), _excerpt(row, query)) for row in rows]


def _matching(query: str) -> Any:
    number = _NUMBER.fullmatch(query)
    if number:
        return tickets.c.ticket_id == int(number.group(1))
    if query.lower().startswith("tag:"):
        tagged = sa.select(ticket_tags.c.ticket_id).where(ticket_tags.c.tag == query[4:].strip())
        return tickets.c.ticket_id.in_(tagged)
    if query.lower().startswith("agent:"):
        name = query[6:].strip()
        held = sa.select(ticket_agents.c.ticket_id).where(ticket_agents.c.username == name)
        return sa.or_(tickets.c.agent == name, tickets.c.ticket_id.in_(held))
    pattern = "%" + _escaped(query.lower()) + "%"
    noted = sa.select(notes.c.ticket_id).where(
        sa.func.lower(notes.c.text).like(pattern, escape="\\")
    )
    return sa.or_(
        sa.func.lower(tickets.c.summary).like(pattern, escape="\\"),
        sa.func.lower(sa.func.coalesce(tickets.c.transcript, "")).like(pattern, escape="\\"),
        tickets.c.ticket_id.in_(noted),
    )


def _visible_to(viewer: AgentProfile) -> Any:
    if viewer.role.supervises:
        return sa.true()
    held = sa.select(ticket_agents.c.ticket_id).where(ticket_agents.c.username == viewer.username)
    waiting = sa.and_(
        tickets.c.state == State.QUEUED.value,
        sa.func.coalesce(tickets.c.team, Team.GENERAL.value).in_(
            [team.value for team in viewer.teams]
        ),
    )
    return sa.or_(tickets.c.agent == viewer.username, tickets.c.ticket_id.in_(held), waiting)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _excerpt(row: Any, query: str, width: int = 40) -> str:
    """The transcript line holding ``query`` (or the summary's last message), shortened."""
    needle = query.lower()
    for line in (row["transcript"] or "").splitlines():
        at = line.lower().find(needle)
        if at >= 0:
            start = max(at - width, 0)
            return ("…" if start else "") + line[start : at + len(query) + width]
    return ""
