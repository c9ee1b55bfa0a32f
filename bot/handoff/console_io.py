"""How the agent console reads requests (token and the agent it names, JSON body, query
numbers) and writes its JSON (tickets with their SLA clock, transcripts, errors)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from rasa.shared.core.events import BotUttered, UserUttered
from sanic import response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.evidence_card import card_json
from bot.channels.limits import encodable
from bot.handoff.directory import AgentDirectory
from bot.handoff.records import Ticket
from bot.handoff.sla import sla_json
from bot.settings import Settings


def token_of(request: Request) -> str:
    """The bearer token of the request ("" for none or one that is not valid text)."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    return token if encodable(token) else ""


async def session_agent(request: Request, agents: AgentDirectory) -> str | None:
    """The agent whose valid session token the request carries (looked up off the loop)."""
    token = token_of(request)
    if not token:
        return None
    return await asyncio.to_thread(agents.agent_for, token)


def body(request: Request) -> dict[str, Any] | None:
    """The JSON object sent ({} for none); None if unusable (not an object, bad text)."""
    try:
        parsed = request.json if request.body else {}
    except InvalidUsage:
        return None
    if not isinstance(parsed, dict):
        return None
    if any(isinstance(v, str) and not encodable(v) for v in parsed.values()):
        return None
    return parsed


def number(request: Request, name: str, default: int, low: int, high: int) -> int | None:
    """Query parameter ``name`` as an integer in [low, high]; None if it is not one."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def denied() -> HTTPResponse:
    return response.json({"error": "login required"}, status=401)


def bad_request(error: str) -> HTTPResponse:
    return response.json({"error": error}, status=400)


def masked(name: str) -> str:
    """A typed username for the log: its first two characters and its length."""
    return f"{name[:2]!r}… ({len(name)} characters)"


def ticket_json(
    ticket: Ticket,
    now: datetime,
    tags: list[str] | None = None,
    sla: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ticket as the console shows it; ``sla`` is its clock (``bot.handoff.sla.sla_json``),
    null when the caller gave none."""
    return {
        "ticket_id": ticket.ticket_id,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel,
        "reason": ticket.reason.value,
        "urgency": ticket.urgency.value,
        "state": ticket.state.value,
        "created_at": ticket.created_at.isoformat(),
        "waiting_seconds": int((now - ticket.created_at).total_seconds()),
        "agent": ticket.agent,
        "summary": ticket.summary.as_dict(),
        "close_note": ticket.close_note,
        "rating": ticket.rating,
        "team": ticket.team.value,
        "unread": ticket.unread,
        "user_typing": ticket.user_typing,
        "tags": tags or [],
        "sla": sla,
    }


def shown_ticket(
    ticket: Ticket, settings: Settings, tags: list[str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """``ticket_json`` with the ticket's SLA clock now, as every console page shows a ticket."""
    now = now or datetime.now(timezone.utc)
    return ticket_json(ticket, now, tags, sla_json(ticket, now, settings))


def transcript(
    events: Any, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """User, bot and agent messages of a conversation, oldest first (those after ``since`` and
    up to ``until`` when given); a bot message's evidence card (``bot.channels.evidence_card``)
    comes with its text."""
    start = since.timestamp() if since else float("-inf")
    end = until.timestamp() if until else float("inf")
    lines = []
    for event in events:
        if not start < event.timestamp <= end:
            continue
        if isinstance(event, UserUttered) and event.text:
            lines.append({"role": "user", "text": event.text})
        elif isinstance(event, BotUttered) and event.text:
            agent = (event.metadata or {}).get("handoff_agent")
            lines.append({"role": "agent" if agent else "bot", "text": event.text, "agent": agent})
            card = card_json(event.data.get("custom"))
            if card is not None:
                lines[-1]["evidence_card"] = card
        else:
            continue
        lines[-1]["at"] = datetime.fromtimestamp(event.timestamp, timezone.utc).isoformat()
    return lines
