"""The agent console: a web page and a JSON API, served by the assistant's own server (the
desk's further routes are ``bot.handoff.desk`` and ``bot.handoff.admin``).

    GET  /webhooks/agent/console                  the page
    GET  /webhooks/agent/static/<file>            the pages' scripts and styles (no inline ones)
    POST /webhooks/agent/api/login                {username, password} -> {token, agent (profile)}
    POST /webhooks/agent/api/logout               (the agent is offline)
    GET  /webhooks/agent/api/queue?limit=&offset=&mine=1  open tickets the agent may open, most
                                                  urgent then longest waiting (mine=1: their
                                                  own):
                                                  {tickets, total, limit, offset}
    GET  /webhooks/agent/api/tickets/<id>         ticket, summary, transcript (the ticket's time
                                                  window), notes and tags: 403 for an agent
                                                  whose ticket it is not
    POST /webhooks/agent/api/tickets/<id>/claim
    POST /webhooks/agent/api/tickets/<id>/reply   {text}: 422 {blocked} when the outbound guard
                                                  stops it (``bot.handoff.guard``)
    POST /webhooks/agent/api/tickets/<id>/close   {note}
    GET  /webhooks/agent/dashboard                support figures for the lead (bot/insight)
    GET  /webhooks/agent/api/insight              the figures as JSON (supervisors and admins)
    GET  /webhooks/agent/api/labels               names of reasons, channels, intents (no login)
    …/review, …/api/review…, …/api/tickets/<id>/flag  the lead's review (bot.improvement.console)
    …/kb, …/api/kb…, …/api/tickets/<id>/articles       help-center editor and suggestions
                                                       (bot.help_center.console)

Calls but login and labels need ``Authorization: Bearer <token>``. Logins are throttled per typed
username and per client address (``bot.handoff.directory.LoginPolicy``, counted in the store so
every server sees them): each failure is answered later than the one before, and after five in 15
minutes the key is locked for 15 minutes (429 with Retry-After, no password check). Addresses in
RATE_LIMIT_EXEMPT are throttled per username only. Password checks (scrypt, 128 MiB each) run two
at a time. Every store call runs off the event loop. The pages live with the other channels'
pages in ``bot/handoff/static/``; the pickup watchdog (``bot.handoff.watchdog``) and the
dispatcher (``bot.handoff.dispatch``) start with the server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.access import RoleCheck, may_read
from bot.handoff.admin import AdminHandlers
from bot.handoff.audit import CLOSE, LOGIN, AuditError
from bot.handoff.audit_console import AuditHandlers
from bot.handoff.console_io import (
    bad_request,
    body,
    denied,
    masked,
    number,
    shown_ticket,
    token_of,
    transcript,
)
from bot.handoff.delivery import Delivery
from bot.handoff.desk import DeskHandlers
from bot.handoff.directory import LOGIN_POLICY
from bot.handoff.dispatch import JOINED, Dispatcher
from bot.handoff.guard import OutboundGuard
from bot.handoff.guard_console import GuardHandlers
from bot.handoff.live_console import LiveHandlers
from bot.handoff.panel_console import PanelHandlers
from bot.handoff.records import Presence, State, Ticket
from bot.handoff.search import searchable
from bot.handoff.sla import SlaPolicy
from bot.handoff.store import HandoffStore
from bot.handoff.watchdog import PickupWatchdog
from bot.insight.labels import load_insight_labels
from bot.insight.sources import InsightError, InsightSources
from bot.services import services_of, use_services

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
PAGE = STATIC / "agent_console.html"
DASHBOARD = STATIC / "agent_dashboard.html"
# What /static/<file> serves: the pages' own files, nothing else from the directory.
ASSETS = {
    "common.js": "text/javascript; charset=utf-8",
    "agent_console.js": "text/javascript; charset=utf-8",
    "agent_console.css": "text/css; charset=utf-8",
    "evidence_card.css": "text/css; charset=utf-8",
    "agent_dashboard.js": "text/javascript; charset=utf-8",
    "agent_dashboard.css": "text/css; charset=utf-8",
    "agent_review.js": "text/javascript; charset=utf-8",
    "agent_review.css": "text/css; charset=utf-8",
    "agent_kb.js": "text/javascript; charset=utf-8",
    "agent_kb.css": "text/css; charset=utf-8",
    "agent_admin.js": "text/javascript; charset=utf-8",
    "agent_admin.css": "text/css; charset=utf-8",
    "agent_live.js": "text/javascript; charset=utf-8",
    "agent_live.css": "text/css; charset=utf-8",
}
MAX_REPLY_LENGTH = 2000
MAX_TICKET_ID = 2**63  # ticket ids are 64-bit integers: a larger one names no ticket
QUEUE_PAGE, MAX_QUEUE_PAGE = 50, 200
PASSWORD_CHECKS = 2  # scrypt runs at once per server: each takes 128 MiB and a core


class ConsoleHandlers:
    """The console's routes, on the server's services, or on ``store`` when given one."""

    def __init__(self, store: HandoffStore | None, dispatcher: Dispatcher) -> None:
        self._given = store
        self._dispatcher = dispatcher
        self._roles = RoleCheck(store)
        self._password_checks = asyncio.Semaphore(PASSWORD_CHECKS)

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        """(method, URI, handler) of every route, relative to the channel's prefix."""
        return [
            ("GET", "/console", self.page),
            ("GET", "/static/<name>", self.asset),
            ("POST", "/api/login", self.login),
            ("POST", "/api/logout", self.logout),
            ("GET", "/api/queue", self.queue),
            ("GET", "/api/tickets/<ticket_id:int>", self.ticket),
            ("POST", "/api/tickets/<ticket_id:int>/claim", self.claim),
            ("POST", "/api/tickets/<ticket_id:int>/reply", self.reply),
            ("POST", "/api/tickets/<ticket_id:int>/close", self.close),
            ("GET", "/dashboard", self.dashboard),
            ("GET", "/api/insight", self.insight),
            ("GET", "/api/labels", self.labels),
        ]

    async def page(self, _: Request) -> HTTPResponse:
        return response.html(PAGE.read_text(encoding="utf-8"))

    async def asset(self, _: Request, name: str) -> HTTPResponse:
        if name not in ASSETS:
            return response.json({"error": "not found"}, status=404)
        content = (STATIC / name).read_bytes()
        return response.raw(content, content_type=ASSETS[name])

    async def login(self, request: Request) -> HTTPResponse:
        data = body(request) or {}
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return bad_request("username and password required")
        services = services_of(request.app)
        agents = self._store(request).agents
        address = services.limits.client_of(request)
        throttled = None if services.settings.addresses.is_exempt(address) else address
        attempt = await asyncio.to_thread(agents.begin_login, username, throttled)
        if not attempt.admitted:
            logger.warning("agent login for %s from %s refused: locked", masked(username), address)
            retry_after = max(math.ceil(attempt.retry_after), 1)
            return response.json(
                {"error": "too many failed logins: try again later", "retry_after": retry_after},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        lifetime = timedelta(hours=services.settings.handoff.session_hours)
        async with self._password_checks:
            token = await asyncio.to_thread(agents.login, username, password, lifetime)
        if token is None:
            logger.warning(
                "failed agent login for %s from %s (%d failures counted)",
                masked(username),
                address,
                attempt.failures,
            )
            if attempt.failures >= LOGIN_POLICY.max_failures:
                logger.warning(
                    "agent logins for %s or from %s locked for %s",
                    masked(username),
                    address,
                    LOGIN_POLICY.lock,
                )
            await asyncio.sleep(LOGIN_POLICY.delay(attempt.failures))
            return response.json({"error": "wrong username or password"}, status=401)
        await asyncio.to_thread(agents.login_succeeded, username, throttled)
        try:
            await asyncio.to_thread(self._store(request).audit.record, username, LOGIN, address)
        except AuditError:  # no login unrecorded
            await asyncio.to_thread(agents.logout, token)
            return response.json({"error": "the audit log is unavailable"}, status=503)
        profile = await asyncio.to_thread(self._store(request).roster.profile, username)
        assert profile is not None
        return response.json({"token": token, "agent": profile.as_dict()})

    async def logout(self, request: Request) -> HTTPResponse:
        agent_name = await self._roles.agent(request)
        if agent_name is None:
            return denied()
        store = self._store(request)
        await asyncio.to_thread(store.agents.logout, token_of(request))
        await asyncio.to_thread(store.roster.heartbeat, agent_name, Presence.OFFLINE)
        return response.empty()

    async def queue(self, request: Request) -> HTTPResponse:
        viewer = await self._roles.profile(request)
        if isinstance(viewer, HTTPResponse):
            return viewer
        mine = viewer.username if request.args.get("mine") == "1" else None
        limit = number(request, "limit", QUEUE_PAGE, 1, MAX_QUEUE_PAGE)
        offset = number(request, "offset", 0, 0, MAX_TICKET_ID - 1)
        if limit is None or offset is None:
            return bad_request(f"limit must be 1-{MAX_QUEUE_PAGE} and offset 0 or more")
        store = self._store(request)
        page = await asyncio.to_thread(store.tickets.queue, limit, offset, mine, viewer)
        total = await asyncio.to_thread(store.tickets.queue_size, mine, viewer)
        tags = await asyncio.to_thread(store.notes.tags_of, [t.ticket_id for t in page])
        now, settings = datetime.now(timezone.utc), services_of(request.app).settings
        return response.json(
            {
                "tickets": [shown_ticket(t, settings, tags.get(t.ticket_id), now) for t in page],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )

    async def ticket(self, request: Request, ticket_id: int) -> HTTPResponse:
        """The ticket with its transcript (its own time window), notes and tags, for who may
        read it (``bot.handoff.access.may_read``); its agent has now read it."""
        viewer = await self._roles.profile(request)
        if isinstance(viewer, HTTPResponse):
            return viewer
        found = await self._ticket(request, ticket_id)
        if found is None:
            return response.json({"error": "no such ticket"}, status=404)
        store = self._store(request)
        held = await asyncio.to_thread(store.tickets.held_by, ticket_id, viewer.username)
        if not may_read(viewer, found, held):
            return response.json({"error": "this ticket is another agent's"}, status=403)
        if found.agent == viewer.username and found.unread:
            await asyncio.to_thread(store.tickets.mark_read, ticket_id, viewer.username)
        lines = await self._transcript(request, found)
        notes = await asyncio.to_thread(store.notes.notes, ticket_id)
        tags = await asyncio.to_thread(store.notes.tags, ticket_id)
        return response.json(
            {
                "ticket": shown_ticket(found, services_of(request.app).settings, tags),
                "transcript": lines,
                "notes": [note.as_dict() for note in notes],
            }
        )

    async def claim(self, request: Request, ticket_id: int) -> HTTPResponse:
        agent_name = await self._roles.agent(request)
        if agent_name is None:
            return denied()
        store = self._store(request)
        claimed = (
            await asyncio.to_thread(store.tickets.claim, ticket_id, agent_name)
            if ticket_id < MAX_TICKET_ID
            else None
        )
        if claimed is None:
            return response.json({"error": "ticket is not waiting in the queue"}, status=409)
        await self._delivery(request).send_response(
            claimed.conversation_id,
            JOINED,
            channel=claimed.channel,
            agent_name=await asyncio.to_thread(store.agents.display_name, agent_name),
        )
        return response.json({"ticket": shown_ticket(claimed, services_of(request.app).settings)})

    async def reply(self, request: Request, ticket_id: int) -> HTTPResponse:
        agent_name = await self._roles.agent(request)
        if agent_name is None:
            return denied()
        text = (body(request) or {}).get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY_LENGTH:
            return bad_request("text must be 1-2000 characters")
        found = await self._ticket(request, ticket_id)
        if found is None or found.state is not State.ASSIGNED or found.agent != agent_name:
            return response.json({"error": "claim the ticket first"}, status=409)
        lines = await self._transcript(request, found)
        blocked = await OutboundGuard(request.app).review(found, agent_name, text, lines)
        if blocked:
            return response.json(
                {"error": "reply blocked", "blocked": [b.as_dict() for b in blocked]}, status=422
            )
        await self._delivery(request).send_text(
            found.conversation_id, text.strip(), agent_name, found.channel
        )
        lines = await self._transcript(request, found)
        store = self._store(request)
        await asyncio.to_thread(store.tickets.replied, ticket_id, agent_name, searchable(lines))
        return response.json({"ok": True})

    async def close(self, request: Request, ticket_id: int) -> HTTPResponse:
        agent_name = await self._roles.agent(request)
        if agent_name is None:
            return denied()
        data = body(request)
        if data is None:
            return bad_request("note must be text")
        note = data.get("note")
        note = note if isinstance(note, str) else ""
        found = await self._ticket(request, ticket_id)
        lines = await self._transcript(request, found) if found else []
        closed = (
            await asyncio.to_thread(
                self._store(request).tickets.close, ticket_id, agent_name, note, searchable(lines)
            )
            if found
            else None
        )
        if closed is None:
            return response.json({"error": "only your assigned ticket can be closed"}, status=409)
        await asyncio.to_thread(
            self._store(request).audit.record, agent_name, CLOSE, f"ticket:{ticket_id}", note
        )
        self._dispatcher.wake()  # a place is free
        await self._delivery(request).send_response(
            closed.conversation_id, "utter_ask_rating", resume=True, channel=closed.channel
        )
        return response.json({"ticket": shown_ticket(closed, services_of(request.app).settings)})

    async def dashboard(self, _: Request) -> HTTPResponse:
        return response.html(DASHBOARD.read_text(encoding="utf-8"))

    async def insight(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request, "reads the support figures")
        if refused is not None:
            return refused
        settings = services_of(request.app).settings
        sources = InsightSources(settings.stores.tracker, settings.stores.handoff)
        try:
            figures = await asyncio.to_thread(
                sources.figures, None, settings.hours.timezone, SlaPolicy.of(settings)
            )
        except InsightError:
            logger.exception("support figures unavailable")
            return response.json({"error": "figures unavailable"}, status=503)
        return response.json(figures.as_dict())

    async def labels(self, _: Request) -> HTTPResponse:
        return response.json(load_insight_labels().for_pages())

    async def _transcript(self, request: Request, ticket: Ticket) -> list[dict[str, Any]]:
        """The conversation's messages within the ticket's window (``TicketStore.window``)."""
        agent: Agent = request.app.ctx.agent
        since, until = await asyncio.to_thread(self._store(request).tickets.window, ticket)
        tracker = await agent.tracker_store.retrieve(ticket.conversation_id)
        return transcript(tracker.events, since, until) if tracker else []

    async def _ticket(self, request: Request, ticket_id: int) -> Ticket | None:
        if ticket_id >= MAX_TICKET_ID:
            return None
        return await asyncio.to_thread(self._store(request).tickets.get, ticket_id)

    def _delivery(self, request: Request) -> Delivery:
        ctx = request.app.ctx
        return Delivery(ctx.agent, ctx.input_channels, self._store(request).outbox)

    def _store(self, request: Request) -> HandoffStore:
        return self._given or services_of(request.app).handoff


class AgentConsole(InputChannel):
    """Human agents take over conversations here; registered in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return "agent"

    def __init__(self, store: HandoffStore | None = None) -> None:
        self._store = store

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        console = Blueprint("im_agent_console", __name__)
        use_services(console)
        # Imported here: the review's labels load the secret guard (jieba) when first used.
        from bot.care.watcher import start_watcher, stop_watcher
        from bot.help_center.console import KnowledgeHandlers
        from bot.improvement.console import ReviewHandlers
        from bot.improvement.pulling import start_model_pulling, stop_model_pulling
        from bot.improvement.release_console import ReleaseHandlers

        roles = RoleCheck(self._store)
        dispatcher = Dispatcher()
        live = LiveHandlers(roles, dispatcher)
        routes = (
            ConsoleHandlers(self._store, dispatcher).routes()
            + DeskHandlers(roles, dispatcher).routes()
            + AdminHandlers(roles, dispatcher).routes()
            + AuditHandlers(roles).routes()
            + PanelHandlers(roles).routes()
            + GuardHandlers(roles).routes()
            + live.routes()
            + ReviewHandlers(roles).routes()
            + ReleaseHandlers(roles).routes()
            + KnowledgeHandlers(roles).routes()
        )
        for method, uri, handler in routes:
            console.add_route(_plain(handler), uri, methods=[method])

        async def start_watchdog(app: Sanic, _: Any) -> None:
            services = services_of(app)
            store = self._store or services.handoff
            app.add_task(PickupWatchdog(store, services.settings.handoff).run(app))
            app.add_task(dispatcher.run(app, store, services.settings.handoff))

        console.after_server_start(start_watchdog)
        console.after_server_start(live.start)
        console.before_server_stop(live.stop)
        console.after_server_start(start_model_pulling)
        console.before_server_stop(stop_model_pulling)
        console.after_server_start(start_watcher)
        console.before_server_stop(stop_watcher)
        return console


def _plain(handler: RouteHandler) -> RouteHandler:
    """``handler`` as a plain function: Sanic marks route handlers with attributes, which a bound
    method cannot take."""

    @functools.wraps(handler)
    async def route(request: Request, **params: Any) -> HTTPResponse | None:
        return await handler(request, **params)

    return route
