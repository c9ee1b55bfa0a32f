"""The supervisors' live view in the console: every open conversation, the bot's own included,
and taking one over.

    GET  /webhooks/agent/live                                 the page
    GET  /webhooks/agent/api/live                             open conversations, flagged (or
                                                              past their SLA) then longest
                                                              waiting first:
                                                              {conversations, total}
    GET  /webhooks/agent/api/live/<conversation_id>           one conversation: its state, its
                                                              open ticket, its latest messages
    POST /webhooks/agent/api/live/<conversation_id>/takeover  the bot's conversation becomes a
                                                              ticket of the supervisor's

Supervisors and admins only: agents get 403, requests without a session 401. An open
conversation is one with a user message within ``bot.handoff.live.LIVE_FOR``, or with an open
ticket. A take-over is recorded in the audit log before anything happens (no record, no
take-over); the ticket is routed as a handoff would be (``bot.handoff.routing``: a theft goes to
the security team), assigned to the supervisor, the bot pauses and the user hears who joined. A
conversation that has an open ticket already gets 409 with that ticket, to open it instead.
Whispers to the ticket's agent are the supervisor's internal notes
(``POST /api/tickets/<id>/notes``).

The recorder that writes the view (``bot.handoff.live.LiveRecorder``) is this server's: ``start``
puts it where the channels' turns find it (``bot.channels.turn_end``) and starts its writing task,
``stop`` writes what is left.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.agent import Agent
from sanic import Sanic, response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.limits import encodable
from bot.handoff.access import RoleCheck
from bot.handoff.audit import TAKEOVER, AuditError
from bot.handoff.console_io import shown_ticket, transcript
from bot.handoff.delivery import Delivery
from bot.handoff.dispatch import JOINED, Dispatcher
from bot.handoff.live import (
    CONTEXT_NAME,
    MAX_CONVERSATION_ID,
    MAX_LISTED,
    LiveBoard,
    LiveRecorder,
    LiveRow,
)
from bot.handoff.records import Reason, State, Ticket
from bot.handoff.routing import route
from bot.handoff.summary import build_summary
from bot.handoff.tables import utc_now
from bot.identity import verified_account
from bot.services import services_of
from bot.settings import Settings
from bot.tracking import peek_tracker

logger = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parent / "static" / "agent_live.html"
TASK = "watches live conversations"
TAKEOVER_TASK = "takes conversations over"
TRANSCRIPT_LINES = 30


class LiveHandlers:
    """The live view's routes, and the server's recorder (``start`` and ``stop``)."""

    def __init__(self, roles: RoleCheck, dispatcher: Dispatcher) -> None:
        self._roles = roles
        self._dispatcher = dispatcher
        self.recorder = LiveRecorder()
        self._board: LiveBoard | None = None

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return [
            ("GET", "/live", self.page),
            ("GET", "/api/live", self.conversations),
            ("GET", "/api/live/<conversation_id>", self.conversation),
            ("POST", "/api/live/<conversation_id>/takeover", self.takeover),
        ]

    async def start(self, app: Sanic, _: Any = None) -> None:
        """After the server started: the turns note the conversations, a task writes them."""
        setattr(app.ctx, CONTEXT_NAME, self.recorder)
        self._board = LiveBoard(services_of(app).handoff.engine)
        app.add_task(self.recorder.run(self._board))

    async def stop(self, _: Sanic, __: Any = None) -> None:
        """Before the server stops: what was noted since the last write is written."""
        if self._board is None:
            return
        try:
            await self.recorder.flush(self._board)
        except sa.exc.SQLAlchemyError:
            logger.exception("live view: the last states were not written")

    async def page(self, _: Request) -> HTTPResponse:
        return response.html(PAGE.read_text(encoding="utf-8"))

    async def conversations(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request, TASK)
        if refused is not None:
            return refused
        store = self._roles.store(request)
        board = LiveBoard(store.engine)
        now = utc_now()
        rows = await asyncio.to_thread(board.rows, MAX_LISTED, now)
        total = await asyncio.to_thread(board.count, now)
        tickets = {t.conversation_id: t for t in await asyncio.to_thread(store.tickets.queue)}
        settings = services_of(request.app).settings
        listed = [entry_json(row, tickets.get(row.conversation_id), now, settings) for row in rows]
        seen = {row.conversation_id for row in rows}
        # A ticket is an open conversation even when its user has not written for long.
        listed += [
            entry_json(None, ticket, now, settings)
            for conversation_id, ticket in tickets.items()
            if conversation_id not in seen
        ]
        listed.sort(key=lambda entry: (not _needs_attention(entry), -entry["waiting_seconds"]))
        return response.json({"conversations": listed, "total": max(total, len(listed))})

    async def conversation(self, request: Request, conversation_id: str) -> HTTPResponse:
        """The conversation's state and open ticket, and its last ``TRANSCRIPT_LINES`` lines."""
        refused = await self._roles.refused(request, TASK)
        if refused is not None:
            return refused
        conversation_id = _decoded(conversation_id)
        if not conversation_id:
            return _not_found()
        store = self._roles.store(request)
        agent: Agent = request.app.ctx.agent
        tracker = await peek_tracker(agent, conversation_id)
        row = await asyncio.to_thread(LiveBoard(store.engine).get, conversation_id)
        ticket = await asyncio.to_thread(store.tickets.open_for, conversation_id)
        lines = transcript(tracker.events)[-TRANSCRIPT_LINES:] if tracker is not None else []
        if row is None and ticket is None and not lines:
            return _not_found()
        return response.json(
            {
                "conversation": entry_json(
                    row, ticket, utc_now(), services_of(request.app).settings, conversation_id
                ),
                "transcript": lines,
            }
        )

    async def takeover(self, request: Request, conversation_id: str) -> HTTPResponse:
        """The conversation becomes a ticket assigned to the supervisor, and the bot pauses."""
        supervisor = await self._roles.supervisor(request, TAKEOVER_TASK)
        if not isinstance(supervisor, str):
            return supervisor
        conversation_id = _decoded(conversation_id)
        if not conversation_id:
            return _not_found()
        store = self._roles.store(request)
        agent: Agent = request.app.ctx.agent
        tracker = await peek_tracker(agent, conversation_id)
        if tracker is None or tracker.latest_message is None or not tracker.latest_message.text:
            return _not_found()
        existing = await asyncio.to_thread(store.tickets.open_for, conversation_id)
        if existing is not None:
            return _has_ticket(existing, services_of(request.app).settings)
        events = [event.as_dict() for event in tracker.events]
        metadata = tracker.latest_message.metadata
        account_id = verified_account(metadata, conversation_id, services_of(request.app).identity)
        routed = route(Reason.FALLBACK, events)
        channel = tracker.get_latest_input_channel() or "unknown"
        try:
            await asyncio.to_thread(
                store.audit.record, supervisor, TAKEOVER, f"conversation:{conversation_id}"
            )
        except AuditError:
            return response.json({"error": "not recorded in the audit log: try again"}, status=503)
        before = utc_now()
        ticket = await asyncio.to_thread(
            store.tickets.open,
            conversation_id,
            channel,
            routed.reason,
            build_summary(events, account_id),
            routed.urgency,
            routed.team,
            account_id,
        )
        if ticket.created_at < before:  # the bot handed the conversation off meanwhile
            return _has_ticket(ticket, services_of(request.app).settings)
        claimed = await asyncio.to_thread(store.tickets.claim, ticket.ticket_id, supervisor)
        if claimed is None:  # the desk gave it to an agent first
            found = await asyncio.to_thread(store.tickets.get, ticket.ticket_id)
            return _has_ticket(found or ticket, services_of(request.app).settings)
        delivery = Delivery(agent, request.app.ctx.input_channels, store.outbox)
        await delivery.pause(conversation_id)
        display_name = await asyncio.to_thread(store.agents.display_name, supervisor)
        await delivery.send_response(
            conversation_id, JOINED, channel=claimed.channel, agent_name=display_name
        )
        logger.info(
            "conversation %s taken over as ticket %d by %s",
            conversation_id,
            claimed.ticket_id,
            supervisor,
        )
        return response.json({"ticket": shown_ticket(claimed, services_of(request.app).settings)})


def entry_json(
    row: LiveRow | None,
    ticket: Ticket | None,
    now: datetime,
    settings: Settings,
    conversation_id: str = "",
) -> dict[str, Any]:
    """A conversation of the view: its row's state, its open ticket with its SLA state; waiting
    since the ticket was opened, else since the conversation entered the view."""
    since = ticket.created_at if ticket else row.first_seen_at if row else now
    last_user_at = (
        row.last_user_at
        if row
        else (ticket.last_user_message_at or ticket.created_at)
        if ticket
        else None
    )
    intents = ticket.summary.intents if ticket else []
    return {
        "conversation_id": (
            row.conversation_id if row else ticket.conversation_id if ticket else conversation_id
        ),
        "channel": row.channel if row else ticket.channel if ticket else None,
        "last_intent": row.last_intent if row else intents[-1] if intents else None,
        "confidence": row.confidence if row else None,
        "flags": [flag.value for flag in row.flags] if row else [],
        "fallbacks_in_row": row.fallbacks_in_row if row else 0,
        "waiting_seconds": max(int((now - since).total_seconds()), 0),
        "first_seen_at": row.first_seen_at.isoformat() if row else None,
        "last_user_at": last_user_at.isoformat() if last_user_at else None,
        "ticket": shown_ticket(ticket, settings, None, now) if ticket else None,
    }


def _needs_attention(entry: dict[str, Any]) -> bool:
    """Flagged, or its ticket is past its SLA target: listed first."""
    ticket = entry["ticket"]
    return bool(entry["flags"]) or bool(ticket and ticket["sla"]["breached"])


def _decoded(segment: str) -> str:
    """The conversation id in a path segment ("" if it names none): pages send it
    percent-encoded, and the router hands the segment over as sent."""
    conversation_id = urllib.parse.unquote(segment)
    valid = len(conversation_id) <= MAX_CONVERSATION_ID and encodable(conversation_id)
    return conversation_id if valid else ""


def _not_found() -> HTTPResponse:
    return response.json({"error": "no such conversation"}, status=404)


def _has_ticket(ticket: Ticket, settings: Settings) -> HTTPResponse:
    state = "is with an agent" if ticket.state is State.ASSIGNED else "waits in the queue"
    return response.json(
        {
            "error": f"the conversation has an open ticket: it {state}",
            "ticket": shown_ticket(ticket, settings),
        },
        status=409,
    )
