"""The lead's review inbox in the agent console, and the agents' "the bot got this wrong" flag.

    GET  /webhooks/agent/review                         the page
    GET  /webhooks/agent/api/review?limit=&offset=      the inbox: {rows, total, limit, offset}
    GET  /webhooks/agent/api/review/intents             the intents (and entities) to label with
    GET  /webhooks/agent/api/review/labels              the active labels, newest first
    GET  /webhooks/agent/api/review/audit?limit=&offset= who labelled, undid, pinned, flagged
    POST /webhooks/agent/api/review/labels              {key, text, intent, entities?, pinned?}
    POST /webhooks/agent/api/review/labels/<id>/undo
    POST /webhooks/agent/api/review/labels/<id>/pin     {pinned}
    POST /webhooks/agent/api/tickets/<id>/flag          {note?}: any agent, on a ticket

The review routes are supervisors' and admins' (``bot.handoff.access``): an agent gets 403.
The inbox (``bot.improvement.inbox``) lists what the assistant missed, as stored (secret markers
stay markers), without the messages already labelled or ignored; labels, flags and the audit
log are in the handoff database (``bot.improvement.store``). Every store call runs off the event
loop; the routes sit beside the console's, with its sessions (``bot.handoff.console``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.shared.core.constants import DEFAULT_INTENTS
from sanic import response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.database import create_engine
from bot.handoff.access import RoleCheck
from bot.handoff.console_io import bad_request, body, denied, number
from bot.improvement.inbox import grouping_key, load_inbox
from bot.improvement.labels import IGNORE, OUT_OF_SCOPE, EntitySpan, Label, LabelError
from bot.improvement.store import ReviewStore
from bot.services import services_of

logger = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parents[1] / "handoff" / "static" / "agent_review.html"
INBOX_PAGE, MAX_INBOX_PAGE = 30, 200
AUDIT_PAGE = 50
MAX_ID = 2**63
MAX_NOTE = 500


class ReviewHandlers:
    """The review's routes, on the server's services, or on the stores given."""

    def __init__(self, roles: RoleCheck) -> None:
        self._roles = roles

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        """(method, URI, handler) of every route, relative to the console's prefix."""
        return [
            ("GET", "/review", self.page),
            ("GET", "/api/review", self.inbox),
            ("GET", "/api/review/intents", self.intents),
            ("GET", "/api/review/labels", self.labelled),
            ("GET", "/api/review/audit", self.audit),
            ("POST", "/api/review/labels", self.label),
            ("POST", "/api/review/labels/<label_id:int>/undo", self.undo),
            ("POST", "/api/review/labels/<label_id:int>/pin", self.pin),
            ("POST", "/api/tickets/<ticket_id:int>/flag", self.flag),
        ]

    async def page(self, _: Request) -> HTTPResponse:
        return response.html(PAGE.read_text(encoding="utf-8"))

    async def inbox(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request)
        if refused is not None:
            return refused
        page = _page(request, INBOX_PAGE)
        if page is None:
            return bad_request(f"limit must be 1-{MAX_INBOX_PAGE} and offset 0 or more")
        limit, offset = page
        review = self._review(request)
        tracker_url = services_of(request.app).settings.stores.tracker

        def read() -> tuple[list[Any], int]:
            flags = [(flag.conversation_id, flag.flagged_at) for flag in review.flags.flags()]
            engine = create_engine(tracker_url, future=True)
            try:
                return load_inbox(
                    engine,
                    flags=flags,
                    hidden_keys=review.labels.handled_keys(),
                    limit=limit,
                    offset=offset,
                )
            finally:
                engine.dispose()

        rows, total = await asyncio.to_thread(read)
        return response.json(
            {
                "rows": [_row_json(row) for row in rows],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )

    async def intents(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request)
        if refused is not None:
            return refused
        agent: Agent = request.app.ctx.agent
        return response.json(
            {"intents": [*_labellable(request), IGNORE], "entities": list(agent.domain.entities)}
        )

    async def labelled(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request)
        if refused is not None:
            return refused
        labels = await asyncio.to_thread(self._review(request).labels.active)
        return response.json({"labels": [_label_json(label) for label in reversed(labels)]})

    async def audit(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request)
        if refused is not None:
            return refused
        page = _page(request, AUDIT_PAGE)
        if page is None:
            return bad_request(f"limit must be 1-{MAX_INBOX_PAGE} and offset 0 or more")
        limit, offset = page
        log = self._review(request).audit
        entries = await asyncio.to_thread(log.entries, limit, offset)
        return response.json(
            {
                "entries": [
                    {
                        "at": entry.at.isoformat(),
                        "actor": entry.actor,
                        "action": entry.action,
                        "details": entry.details,
                    }
                    for entry in entries
                ]
            }
        )

    async def label(self, request: Request) -> HTTPResponse:
        lead = await self._roles.supervisor(request)
        if not isinstance(lead, str):
            return lead
        data = body(request) or {}
        text, intent = data.get("text"), data.get("intent")
        if not isinstance(text, str) or not isinstance(intent, str):
            return bad_request("text and intent required")
        spans = data.get("entities") or []
        pinned = data.get("pinned") is True
        try:
            entities = tuple(
                EntitySpan(int(s["start"]), int(s["end"]), str(s["entity"]), str(s["value"]))
                for s in spans
            )
        except (KeyError, TypeError, ValueError):
            return bad_request("entities must be a list of {start, end, entity, value}")
        labels = self._review(request).labels
        known = _labellable(request)
        try:
            label = await asyncio.to_thread(
                functools.partial(
                    labels.label,
                    text,
                    grouping_key(text),
                    intent,
                    lead,
                    entities,
                    pinned,
                    known_intents=known,
                )
            )
        except LabelError as error:
            return bad_request(str(error))
        return response.json({"label": _label_json(label)})

    async def undo(self, request: Request, label_id: int) -> HTTPResponse:
        lead = await self._roles.supervisor(request)
        if not isinstance(lead, str):
            return lead
        labels = self._review(request).labels
        undone = label_id < MAX_ID and await asyncio.to_thread(labels.undo, label_id, lead)
        if not undone:
            return response.json({"error": "no such label, or it was undone"}, status=409)
        return response.json({"ok": True})

    async def pin(self, request: Request, label_id: int) -> HTTPResponse:
        lead = await self._roles.supervisor(request)
        if not isinstance(lead, str):
            return lead
        pinned = (body(request) or {}).get("pinned")
        if not isinstance(pinned, bool):
            return bad_request("pinned must be true or false")
        labels = self._review(request).labels
        done = label_id < MAX_ID and await asyncio.to_thread(labels.pin, label_id, pinned, lead)
        if not done:
            return response.json({"error": "no such label, or it was undone"}, status=409)
        return response.json({"ok": True})

    async def flag(self, request: Request, ticket_id: int) -> HTTPResponse:
        agent_name = await self._roles.agent(request)
        if agent_name is None:
            return denied()
        note = (body(request) or {}).get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            return bad_request(f"note must be text of at most {MAX_NOTE} characters")
        handoff = self._roles.store(request)
        ticket = (
            await asyncio.to_thread(handoff.tickets.get, ticket_id) if ticket_id < MAX_ID else None
        )
        if ticket is None:
            return response.json({"error": "no such ticket"}, status=404)
        flags = self._review(request).flags
        await asyncio.to_thread(flags.flag, ticket.conversation_id, ticket_id, agent_name, note)
        return response.json({"ok": True})

    def _review(self, request: Request) -> ReviewStore:
        return services_of(request.app).review


def _page(request: Request, default: int) -> tuple[int, int] | None:
    """The request's ``limit`` (``default`` if none, at most MAX_INBOX_PAGE) and ``offset``;
    None when either is out of range."""
    limit = number(request, "limit", default, 1, MAX_INBOX_PAGE)
    offset = number(request, "offset", 0, 0, MAX_ID - 1)
    return None if limit is None or offset is None else (limit, offset)


def _labellable(request: Request) -> list[str]:
    """The intents the live model knows, without Rasa's own (out_of_scope stays)."""
    agent: Agent = request.app.ctx.agent
    own = set(DEFAULT_INTENTS) - {OUT_OF_SCOPE}
    return [intent for intent in agent.domain.intents if intent not in own]


def _row_json(row: Any) -> dict[str, Any]:
    return {
        "key": row.key,
        "text": row.text,
        "examples": list(row.examples),
        "count": row.count,
        "newest_at": row.newest_at.isoformat(),
        "reasons": list(row.reasons),
        "intent": row.intent,
        "confidence": row.confidence,
        "channel": row.channel,
        "conversation_id": row.conversation_id,
        "context": [{"speaker": turn.speaker, "text": turn.text} for turn in row.context],
    }


def _label_json(label: Label) -> dict[str, Any]:
    return {
        "label_id": label.label_id,
        "text": label.text,
        "key": label.text_key,
        "intent": label.intent,
        "entities": [vars(span) for span in label.entities],
        "pinned": label.pinned,
        "labelled_by": label.labelled_by,
        "labelled_at": label.labelled_at.isoformat(),
    }
