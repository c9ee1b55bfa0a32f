"""The agent console: a web page and a JSON API, served by the assistant's own server.

    GET  /webhooks/agent/console                  the page
    GET  /webhooks/agent/static/<file>            the pages' scripts and styles (no inline ones)
    POST /webhooks/agent/api/login                {username, password} -> {token, agent}
    POST /webhooks/agent/api/logout
    GET  /webhooks/agent/api/queue?limit=&offset= open tickets, most urgent then longest waiting:
                                                  {tickets, total, limit, offset}
    GET  /webhooks/agent/api/tickets/<id>         ticket, summary and transcript
    POST /webhooks/agent/api/tickets/<id>/claim
    POST /webhooks/agent/api/tickets/<id>/reply   {text}
    POST /webhooks/agent/api/tickets/<id>/close   {note}
    GET  /webhooks/agent/dashboard                support figures for the lead (bot/insight)
    GET  /webhooks/agent/api/insight              the figures as JSON

Every API call but login needs ``Authorization: Bearer <token>``. Logins are throttled per typed
username and per client address (``bot.handoff.store.LoginPolicy``, counted in the store so every
server sees them): each failure is answered later than the one before, and after five in 15
minutes the key is locked for 15 minutes (429 with Retry-After, no password check). Addresses in
RATE_LIMIT_EXEMPT are throttled per username only. Password checks (scrypt, 128 MiB each) run two
at a time, off the event loop.

A background task tells users whose ticket nobody claimed within HANDOFF_PICKUP_MINUTES and offers
e-mail, and purges expired sessions.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.limits import address_settings, client_of, encodable
from bot.handoff.delivery import Delivery
from bot.handoff.records import State, Ticket
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import LOGIN_POLICY, HandoffStore, handoff_store
from bot.insight.figures import InsightError, InsightSources

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
PAGE = STATIC / "agent_console.html"
DASHBOARD = STATIC / "agent_dashboard.html"
# What /static/<file> serves: the pages' own files, nothing else from the directory.
ASSETS = {
    "agent_console.js": "text/javascript; charset=utf-8",
    "agent_console.css": "text/css; charset=utf-8",
    "agent_dashboard.js": "text/javascript; charset=utf-8",
    "agent_dashboard.css": "text/css; charset=utf-8",
}
MAX_REPLY_LENGTH = 2000
MAX_TICKET_ID = 2**63  # ticket ids are 64-bit integers: a larger one names no ticket
QUEUE_PAGE, MAX_QUEUE_PAGE = 50, 200
PASSWORD_CHECKS = 2  # scrypt runs at once per server: each takes 128 MiB and a core


def masked(name: str) -> str:
    """A typed username for the log: its first two characters and its length."""
    return f"{name[:2]!r}… ({len(name)} characters)"


def ticket_json(ticket: Ticket, now: datetime) -> dict[str, Any]:
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
    }


def transcript(events: Any) -> list[dict[str, Any]]:
    """User, bot and agent messages of a conversation, oldest first."""
    lines = []
    for event in events:
        if isinstance(event, UserUttered) and event.text:
            lines.append({"role": "user", "text": event.text})
        elif isinstance(event, BotUttered) and event.text:
            agent = (event.metadata or {}).get("handoff_agent")
            lines.append({"role": "agent" if agent else "bot", "text": event.text, "agent": agent})
        else:
            continue
        lines[-1]["at"] = datetime.fromtimestamp(event.timestamp, timezone.utc).isoformat()
    return lines


class AgentConsole(InputChannel):
    """Human agents take over conversations here; registered in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return "agent"

    def __init__(self, store: HandoffStore | None = None) -> None:
        self._store = store

    @property
    def store(self) -> HandoffStore:
        return self._store or handoff_store()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        console = Blueprint("im_agent_console", __name__)
        settings = HandoffSettings.from_env()
        password_checks = asyncio.Semaphore(PASSWORD_CHECKS)

        def delivery(request: Request) -> Delivery:
            return Delivery(request.app.ctx.agent, request.app.ctx.input_channels, self.store)

        def token_of(request: Request) -> str:
            header = request.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            return token if encodable(token) else ""

        async def authenticated(request: Request) -> str | None:
            token = token_of(request)
            return await asyncio.to_thread(self.store.agent_for, token) if token else None

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

        def denied() -> HTTPResponse:
            return response.json({"error": "login required"}, status=401)

        def bad_request(error: str) -> HTTPResponse:
            return response.json({"error": error}, status=400)

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

        async def ticket_by_id(ticket_id: int) -> Ticket | None:
            if ticket_id >= MAX_TICKET_ID:
                return None
            return await asyncio.to_thread(self.store.ticket, ticket_id)

        async def display_name(username: str) -> str:
            return await asyncio.to_thread(self.store.display_name, username)

        @console.route("/console", methods=["GET"])
        async def page(_: Request) -> HTTPResponse:
            return response.html(PAGE.read_text(encoding="utf-8"))

        @console.route("/static/<name>", methods=["GET"])
        async def asset(_: Request, name: str) -> HTTPResponse:
            if name not in ASSETS:
                return response.json({"error": "not found"}, status=404)
            content = (STATIC / name).read_bytes()
            return response.raw(content, content_type=ASSETS[name])

        @console.route("/api/login", methods=["POST"])
        async def login(request: Request) -> HTTPResponse:
            data = body(request) or {}
            username, password = data.get("username"), data.get("password")
            if not isinstance(username, str) or not isinstance(password, str):
                return bad_request("username and password required")
            address = client_of(request)
            throttled = None if address_settings().is_exempt(address) else address
            attempt = await asyncio.to_thread(self.store.begin_login, username, throttled)
            if not attempt.admitted:
                logger.warning(
                    "agent login for %s from %s refused: locked", masked(username), address
                )
                retry_after = max(math.ceil(attempt.retry_after), 1)
                return response.json(
                    {
                        "error": "too many failed logins: try again later",
                        "retry_after": retry_after,
                    },
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
            lifetime = timedelta(hours=settings.session_hours)
            async with password_checks:
                token = await asyncio.to_thread(self.store.login, username, password, lifetime)
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
            await asyncio.to_thread(self.store.login_succeeded, username, throttled)
            agent = {"username": username, "display_name": await display_name(username)}
            return response.json({"token": token, "agent": agent})

        @console.route("/api/logout", methods=["POST"])
        async def logout(request: Request) -> HTTPResponse:
            if await authenticated(request) is None:
                return denied()
            await asyncio.to_thread(self.store.logout, token_of(request))
            return response.empty()

        @console.route("/api/queue", methods=["GET"])
        async def queue(request: Request) -> HTTPResponse:
            if await authenticated(request) is None:
                return denied()
            limit = number(request, "limit", QUEUE_PAGE, 1, MAX_QUEUE_PAGE)
            offset = number(request, "offset", 0, 0, MAX_TICKET_ID - 1)
            if limit is None or offset is None:
                return bad_request(f"limit must be 1-{MAX_QUEUE_PAGE} and offset 0 or more")
            tickets = await asyncio.to_thread(self.store.queue, limit, offset)
            total = await asyncio.to_thread(self.store.queue_size)
            now = datetime.now(timezone.utc)
            return response.json(
                {
                    "tickets": [ticket_json(t, now) for t in tickets],
                    "total": total,
                    "limit": limit,
                    "offset": offset,
                }
            )

        @console.route("/api/tickets/<ticket_id:int>", methods=["GET"])
        async def ticket(request: Request, ticket_id: int) -> HTTPResponse:
            if await authenticated(request) is None:
                return denied()
            found = await ticket_by_id(ticket_id)
            if found is None:
                return response.json({"error": "no such ticket"}, status=404)
            agent: Agent = request.app.ctx.agent
            tracker = await agent.tracker_store.retrieve(found.conversation_id)
            lines = transcript(tracker.events) if tracker else []
            now = datetime.now(timezone.utc)
            return response.json({"ticket": ticket_json(found, now), "transcript": lines})

        @console.route("/api/tickets/<ticket_id:int>/claim", methods=["POST"])
        async def claim(request: Request, ticket_id: int) -> HTTPResponse:
            agent_name = await authenticated(request)
            if agent_name is None:
                return denied()
            claimed = (
                await asyncio.to_thread(self.store.claim, ticket_id, agent_name)
                if ticket_id < MAX_TICKET_ID
                else None
            )
            if claimed is None:
                return response.json({"error": "ticket is not waiting in the queue"}, status=409)
            await delivery(request).send_response(
                claimed.conversation_id,
                "utter_agent_joined",
                channel=claimed.channel,
                agent_name=await display_name(agent_name),
            )
            return response.json({"ticket": ticket_json(claimed, datetime.now(timezone.utc))})

        @console.route("/api/tickets/<ticket_id:int>/reply", methods=["POST"])
        async def reply(request: Request, ticket_id: int) -> HTTPResponse:
            agent_name = await authenticated(request)
            if agent_name is None:
                return denied()
            text = (body(request) or {}).get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY_LENGTH:
                return bad_request("text must be 1-2000 characters")
            found = await ticket_by_id(ticket_id)
            if found is None or found.state is not State.ASSIGNED or found.agent != agent_name:
                return response.json({"error": "claim the ticket first"}, status=409)
            await delivery(request).send_text(
                found.conversation_id, text.strip(), agent_name, found.channel
            )
            return response.json({"ok": True})

        @console.route("/api/tickets/<ticket_id:int>/close", methods=["POST"])
        async def close(request: Request, ticket_id: int) -> HTTPResponse:
            agent_name = await authenticated(request)
            if agent_name is None:
                return denied()
            data = body(request)
            if data is None:
                return bad_request("note must be text")
            note = data.get("note")
            note = note if isinstance(note, str) else ""
            closed = (
                await asyncio.to_thread(self.store.close, ticket_id, agent_name, note)
                if ticket_id < MAX_TICKET_ID
                else None
            )
            if closed is None:
                return response.json(
                    {"error": "only your assigned ticket can be closed"}, status=409
                )
            await delivery(request).send_response(
                closed.conversation_id, "utter_ask_rating", resume=True, channel=closed.channel
            )
            return response.json({"ticket": ticket_json(closed, datetime.now(timezone.utc))})

        @console.route("/dashboard", methods=["GET"])
        async def dashboard(_: Request) -> HTTPResponse:
            return response.html(DASHBOARD.read_text(encoding="utf-8"))

        @console.route("/api/insight", methods=["GET"])
        async def insight(request: Request) -> HTTPResponse:
            if await authenticated(request) is None:
                return denied()
            try:
                figures = await asyncio.to_thread(InsightSources.from_env().figures)
            except InsightError:
                logger.exception("support figures unavailable")
                return response.json({"error": "figures unavailable"}, status=503)
            return response.json(figures.as_dict())

        @console.listener("after_server_start")
        async def start_watchdog(app: Sanic, _: Any) -> None:
            app.add_task(self._watch_pickups(app, settings))

        return console

    async def _watch_pickups(self, app: Sanic, settings: HandoffSettings) -> None:
        """Tells users nobody picked up within the pickup time, once per ticket, and purges
        expired sessions and old login failures."""
        while True:
            await asyncio.sleep(settings.watch_seconds)
            try:
                await asyncio.to_thread(self.store.purge_expired)
                agent = getattr(app.ctx, "agent", None)
                if agent is None:
                    continue
                late = await asyncio.to_thread(
                    self.store.claim_timeouts, timedelta(minutes=settings.pickup_minutes)
                )
                for ticket in late:
                    await Delivery(agent, app.ctx.input_channels, self.store).send_response(
                        ticket.conversation_id, "utter_handoff_no_agent", channel=ticket.channel
                    )
            except Exception:
                logger.exception("pickup watchdog failed; trying again next round")
